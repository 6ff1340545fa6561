"""AssemblyScript that asc accepts but the runner cannot run fails at compile time, in source terms."""

from __future__ import annotations

import pytest

from compiler.compilers import Compilers
from compiler.errors import CompileError


@pytest.fixture(scope="module")
def compilers():
    found = Compilers(timeout_s=60.0)
    yield found
    found.close()


def test_an_import_the_runner_does_not_provide_fails_at_compile(compilers):
    source = (
        '@external("env", "system") declare function system(): void;\n'
        "export function handle(input: string): string { system(); return input; }"
    )
    with pytest.raises(CompileError) as failed:
        compilers.compile("assemblyscript", source)
    assert "env.system" in str(failed.value) and "@external" in str(failed.value)


def test_a_module_without_handle_fails_at_compile(compilers):
    with pytest.raises(CompileError) as failed:
        compilers.compile("assemblyscript", "export function other(x: i32): i32 { return x; }")
    assert "does not export handle" in str(failed.value)
    assert "export function handle(input: string): string" in str(failed.value)


def test_a_normal_function_still_compiles(compilers):
    binary = compilers.compile(
        "assemblyscript", "export function handle(input: string): string { return input; }"
    )
    assert binary.startswith(b"\0asm")
