"""AssemblyScript ABI runs through the real pool: real asc modules, real wasmtime."""

from __future__ import annotations

import json

import pytest
import wasmtime

from runner.contract import Language, RunRequest, RunStatus
from tests.integration.runner_fixtures import as_modules, make_request, runner_pool

__all__ = ["as_modules", "make_request", "runner_pool"]  # fixtures used below

MIB = 1024 * 1024


def test_thrown_error_fails_with_message_and_position(runner_pool, make_request):
    result = runner_pool.run(make_request("throws", '{"x": 1}'))

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith("something went wrong at ")
    assert "throws.ts:4:" in result.error_message


def test_single_allocation_over_the_limit_fails_naming_the_memory_limit(runner_pool, make_request):
    result = runner_pool.run(make_request("hugealloc", max_memory_bytes=16 * MIB))

    assert result.status is RunStatus.FAILED
    assert f"memory limit of {16 * MIB} bytes (maxMemoryBytes)" in result.error_message


def test_output_within_a_raised_limit_completes(runner_pool, make_request):
    result = runner_pool.run(make_request("bigoutput", max_output_size_bytes=5 * MIB))

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert len(result.output_json) == (4 * MIB) + 2


def test_non_json_output_fails(runner_pool, make_request):
    result = runner_pool.run(make_request("notjson"))

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith("function returned invalid JSON")
    assert "hello, not json" in result.error_message


def test_module_without_handle_fails_with_invalid_abi_export(runner_pool):
    wasm = wasmtime.wat2wasm(
        """(module
             (memory (export "memory") 1)
             (func (export "__new") (param i32 i32) (result i32) i32.const 16)
             (func (export "__pin") (param i32) (result i32) local.get 0)
             (func (export "__unpin") (param i32)))"""
    )
    result = runner_pool.run(RunRequest(language=Language.WASM, artifact=bytes(wasm), input_json="{}"))

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith("invalid ABI export: module does not export handle")


def test_unsupported_import_fails_naming_it(runner_pool):
    wasm = wasmtime.wat2wasm(
        """(module (import "wasi_snapshot_preview1" "fd_write"
                      (func (param i32 i32 i32 i32) (result i32))))"""
    )
    result = runner_pool.run(RunRequest(language=Language.WASM, artifact=bytes(wasm), input_json="{}"))

    assert result.status is RunStatus.FAILED
    assert "unsupported import wasi_snapshot_preview1.fd_write" in result.error_message


@pytest.mark.parametrize(
    ("imported", "call", "name"),
    [
        ('"console.log" (func $f (param i32))', "(call $f (i32.const 0xfffff0))", "console.log"),
        (
            '"abort" (func $f (param i32 i32 i32 i32))',
            "(call $f (i32.const 0xfffff0) (i32.const 0) (i32.const 1) (i32.const 1))",
            "abort",
        ),
    ],
)
def test_a_bad_pointer_given_to_a_host_function_is_reported_as_such(runner_pool, imported, call, name):
    wasm = wasmtime.wat2wasm(
        f"""(module (import "env" {imported})
             (memory (export "memory") 1)
             (func (export "__new") (param i32 i32) (result i32) i32.const 16)
             (func (export "__pin") (param i32) (result i32) local.get 0)
             (func (export "__unpin") (param i32))
             (func (export "handle") (param i32) (result i32) {call} i32.const 0))"""
    )
    result = runner_pool.run(RunRequest(language=Language.WASM, artifact=bytes(wasm), input_json="{}"))

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith(f"{name}() was passed an invalid string pointer"), (
        result.error_message
    )


def test_garbage_bytes_fail_as_invalid_module(runner_pool):
    garbage = b"\0asm\x01\0\0\0garbage"
    result = runner_pool.run(RunRequest(language=Language.WASM, artifact=garbage, input_json="{}"))

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith("invalid WebAssembly module")


def test_trace_and_console_log_are_captured_in_logs(runner_pool, make_request):
    result = runner_pool.run(make_request("logging", "2"))

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert json.loads(result.output_json) == {"logged": 2}
    assert result.logs.splitlines() == [
        "started 1, 2.5",
        "hello from console.log",
        "line 0 of the log spam",
        "line 1 of the log spam",
    ]


@pytest.mark.parametrize("name", ["echo", "counter"])
def test_same_artifact_as_language_wasm_runs_the_same(runner_pool, make_request, name):
    result = runner_pool.run(make_request(name, "[]", language=Language.WASM))

    assert result.status is RunStatus.COMPLETED, result.error_message
