"""The warm AssemblyScript compiler: real node, real asc, real wasmtime."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
import wasmtime

from compiler.asc import AscCompiler
from compiler.errors import (
    AssemblyScriptCompileError,
    CompileError,
    CompilerUnavailable,
    CompileTimeout,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ECHO = "export function handle(input: string): string { return input; }"


def suffix_source(suffix: str) -> str:
    return f'export function handle(input: string): string {{ return input + "{suffix}"; }}'


@pytest.fixture(scope="module")
def compiler():
    with AscCompiler(project_root=PROJECT_ROOT, timeout_s=60.0) as compiler:
        compiler.start()
        yield compiler


def call_handle(wasm: bytes, text: str) -> str:
    """Runs handle(text) through the AssemblyScript string ABI."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    i32, f64 = wasmtime.ValType.i32(), wasmtime.ValType.f64()
    linker.define_func("env", "abort", wasmtime.FuncType([i32] * 4, []), lambda *a: None)
    linker.define_func("env", "trace", wasmtime.FuncType([i32, i32] + [f64] * 5, []), lambda *a: None)
    linker.define_func("env", "seed", wasmtime.FuncType([], [f64]), lambda: 1.0)
    instance = linker.instantiate(store, wasmtime.Module(engine, wasm))
    exports = instance.exports(store)
    memory = exports["memory"]
    data = text.encode("utf-16-le")
    ptr = exports["__new"](store, len(data), 2)
    exports["__pin"](store, ptr)
    memory.write(store, data, ptr)
    out = exports["handle"](store, ptr)
    exports["__unpin"](store, ptr)
    length = int.from_bytes(memory.read(store, out - 4, out), "little")
    return memory.read(store, out, out + length).decode("utf-16-le")


def test_echo_module_compiles_to_the_abi_and_runs(compiler):
    wasm = compiler.compile(ECHO)

    module = wasmtime.Module(wasmtime.Engine(), wasm)
    exports = {export.name: type(export.type) for export in module.exports}
    assert exports["handle"] is wasmtime.FuncType
    assert exports["memory"] is wasmtime.MemoryType
    for name in ("__new", "__pin", "__unpin"):
        assert exports[name] is wasmtime.FuncType
    assert call_handle(wasm, '{"name": "pnil ✓"}') == '{"name": "pnil ✓"}'


def test_syntax_error_reports_position_without_ansi(compiler):
    source = "export function handle(input: string): string {\n  let a = ;\n  return input;\n}\n"

    with pytest.raises(AssemblyScriptCompileError) as caught:
        compiler.compile(source)

    message = str(caught.value)
    assert "TS1109" in message
    assert "input.ts(2,11)" in message
    assert "\x1b" not in message
    assert "FAILURE" not in message
    assert isinstance(caught.value, CompileError)


def test_type_errors_report_every_position(compiler):
    source = 'export function handle(input: string): string {\n  let n: i32 = "text";\n  return missing;\n}\n'

    with pytest.raises(AssemblyScriptCompileError) as caught:
        compiler.compile(source)

    message = str(caught.value)
    assert "TS2322" in message and "input.ts(2,16)" in message
    assert "ERROR TS2304: Cannot find name 'missing'." in message
    assert "input.ts(3,10)" in message
    assert "\x1b" not in message and "    at " not in message


def test_consecutive_compiles_reuse_one_node_process(compiler):
    pid = compiler.pid

    results = [compiler.compile(suffix_source(str(n))) for n in range(5)]

    assert compiler.pid == pid
    assert [call_handle(wasm, "x") for wasm in results] == [f"x{n}" for n in range(5)]


def test_killed_node_process_is_replaced_on_next_compile(compiler):
    old_pid = compiler.pid
    os.kill(old_pid, signal.SIGKILL)

    wasm = compiler.compile(suffix_source("-after-kill"))

    assert call_handle(wasm, "a") == "a-after-kill"
    assert compiler.pid not in (None, old_pid)


def test_node_dying_mid_compile_is_retried_transparently(compiler, caplog):
    # Hundreds of functions keep asc busy for most of a second, long enough to kill it mid-way.
    functions = "\n".join(
        f"export function f{n}(a: i32): i32 {{ let s = 0; for (let j = 0; j < a; j++) s += j * {n}; "
        f"return s; }}"
        for n in range(400)
    )
    old_pid = compiler.pid
    threading.Timer(0.15, os.kill, args=(old_pid, signal.SIGKILL)).start()

    wasm = compiler.compile(functions + "\n" + suffix_source("-retried"))

    assert call_handle(wasm, "r") == "r-retried"
    assert compiler.pid not in (None, old_pid)
    assert "restarting and retrying once" in caplog.text


def test_timeout_kills_the_process_and_the_next_compile_works(compiler):
    old_pid = compiler.pid

    with pytest.raises(CompileTimeout, match=r"compilation timed out after 0\.01 s"):
        compiler.compile(suffix_source("slow"), timeout_s=0.01)

    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)
    assert call_handle(compiler.compile(suffix_source("-next")), "b") == "b-next"


def test_source_cannot_import_host_files(compiler, tmp_path):
    secret = tmp_path / "secret.ts"
    secret.write_text('export const SECRET: string = "host-secret";\n')
    source = f'import {{ SECRET }} from "{secret.with_suffix("")}";\n' + (
        "export function handle(input: string): string { return SECRET; }\n"
    )

    with pytest.raises(AssemblyScriptCompileError, match="not found"):
        compiler.compile(source)


def test_concurrent_callers_each_get_their_own_result(compiler):
    results: dict[int, str] = {}

    def work(n: int) -> None:
        results[n] = call_handle(compiler.compile(suffix_source(f"-{n}")), "t")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results == {n: f"t-{n}" for n in range(3)}


def test_oversized_source_is_rejected_before_compiling():
    small = AscCompiler(project_root=PROJECT_ROOT, max_source_chars=100)

    with pytest.raises(AssemblyScriptCompileError, match="source is too large"):
        small.compile(ECHO + " " * 200)
    assert small.pid is None


def test_missing_node_is_an_infrastructure_error():
    broken = AscCompiler(node="/nonexistent/node", project_root=PROJECT_ROOT)

    with pytest.raises(CompilerUnavailable, match="cannot start") as caught:
        broken.compile(ECHO)
    assert not isinstance(caught.value, CompileError)


def test_close_stops_the_node_process():
    compiler = AscCompiler(project_root=PROJECT_ROOT, warmup=False)
    compiler.start()
    pid = compiler.pid

    compiler.close()

    assert compiler.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_node_that_exits_at_startup_is_an_infrastructure_error():
    broken = AscCompiler(node="false", project_root=PROJECT_ROOT)

    with pytest.raises(CompilerUnavailable, match="did not start: node exited with code 1"):
        broken.compile(ECHO)
