"""Validation of uploaded wasm modules against the ABI: real asc output, real wasmtime."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import wasmtime

from compiler.asc import AscCompiler
from compiler.errors import CompileError, WasmModuleError
from compiler.wasm_module import validate_wasm_module

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ECHO = "export function handle(input: string): string { return input; }"
EXTERNAL_IMPORT = (
    '@external("env", "fetch") declare function fetch(): i32;\n'
    "export function handle(input: string): string { return input + fetch().toString(); }\n"
)
CONSOLE_AND_CLOCK = (
    "export function handle(input: string): string {\n"
    '  console.log("at " + Date.now().toString());\n'
    "  return input;\n"
    "}\n"
)


@pytest.fixture(scope="module")
def asc_modules() -> dict[str, bytes]:
    with AscCompiler(project_root=PROJECT_ROOT, warmup=False) as compiler:
        return {
            "echo": compiler.compile(ECHO),
            "external": compiler.compile(EXTERNAL_IMPORT),
            "console": compiler.compile(CONSOLE_AND_CLOCK),
        }


def b64(binary: bytes) -> str:
    return base64.b64encode(binary).decode()


def wat_module(body: str) -> str:
    return b64(wasmtime.wat2wasm(f"(module {body})"))


def test_asc_module_is_accepted_and_returned_as_bytes(asc_modules):
    engine = wasmtime.Engine()

    binary = validate_wasm_module(b64(asc_modules["echo"]), engine)

    assert binary == asc_modules["echo"]
    wasmtime.Module(engine, binary)  # still loadable by the caller's engine


def test_base64_wrapped_over_lines_is_accepted(asc_modules):
    text = b64(asc_modules["echo"])
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))

    assert validate_wasm_module(wrapped) == asc_modules["echo"]


def test_invalid_base64_is_rejected():
    with pytest.raises(WasmModuleError, match="source is not valid base64") as caught:
        validate_wasm_module("this is *not* base64!")
    assert isinstance(caught.value, CompileError)


def test_bytes_that_are_not_wasm_are_rejected():
    with pytest.raises(WasmModuleError, match="not a WebAssembly binary"):
        validate_wasm_module(b64(b"(module)"))


def test_corrupt_wasm_reports_wasmtimes_reason(asc_modules):
    truncated = asc_modules["echo"][:40]

    with pytest.raises(WasmModuleError, match="not a valid WebAssembly module") as caught:
        validate_wasm_module(b64(truncated))
    message = str(caught.value)
    assert "end-of-file" in message or "unexpected" in message
    assert "\n" not in message and len(message) < 400


def test_missing_exports_are_all_named():
    module = wat_module('(func (export "handle") (param i32) (result i32) local.get 0)')

    with pytest.raises(WasmModuleError) as caught:
        validate_wasm_module(module)

    assert str(caught.value).startswith(
        "invalid ABI export: module does not export __new, __pin, __unpin, memory"
    )
    assert "asc --exportRuntime" in str(caught.value)


def test_missing_handle_is_named_first():
    module = wat_module(
        '(memory (export "memory") 1)'
        '(func (export "__new") (param i32 i32) (result i32) i32.const 0)'
        '(func (export "__pin") (param i32) (result i32) local.get 0)'
        '(func (export "__unpin") (param i32))'
    )

    with pytest.raises(WasmModuleError, match=r"^invalid ABI export: module does not export handle"):
        validate_wasm_module(module)


def test_handle_with_wrong_signature_is_rejected():
    module = wat_module(
        '(memory (export "memory") 1)'
        '(func (export "handle") (param i64) (result i32) i32.const 0)'
        '(func (export "__new") (param i32 i32) (result i32) i32.const 0)'
        '(func (export "__pin") (param i32) (result i32) local.get 0)'
        '(func (export "__unpin") (param i32))'
    )

    with pytest.raises(WasmModuleError, match=r"handle has type \(i64\) -> \(i32\)"):
        validate_wasm_module(module)


def test_unsupported_import_from_asc_is_named(asc_modules):
    with pytest.raises(WasmModuleError, match="unsupported import: module imports env.fetch"):
        validate_wasm_module(b64(asc_modules["external"]))


def test_asc_module_using_console_and_date_is_accepted_like_the_runner_does(asc_modules):
    # The same table decides both: what validates at compile time is what the runner links.
    assert validate_wasm_module(b64(asc_modules["console"])) == asc_modules["console"]


def test_wasi_import_is_rejected():
    module = wat_module(
        '(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
        '(memory (export "memory") 1)'
        '(func (export "handle") (param i32) (result i32) local.get 0)'
        '(func (export "__new") (param i32 i32) (result i32) i32.const 0)'
        '(func (export "__pin") (param i32) (result i32) local.get 0)'
        '(func (export "__unpin") (param i32))'
    )

    with pytest.raises(WasmModuleError) as caught:
        validate_wasm_module(module)
    assert "wasi_snapshot_preview1.fd_write" in str(caught.value)
    assert "env.abort, env.trace, env.seed" in str(caught.value)


def test_oversized_module_is_rejected(asc_modules):
    with pytest.raises(WasmModuleError, match="module is too large"):
        validate_wasm_module(b64(asc_modules["echo"]), max_bytes=100)
