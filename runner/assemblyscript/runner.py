"""Runs modules that follow the AssemblyScript ABI (languages ``assemblyscript`` and ``wasm``).

ABI: the module exports ``handle(input: string): string``, ``memory``, ``__new``, ``__pin``
and ``__unpin``; strings are UTF-16LE objects made with ``__new(byteLength, 2)``. It may
import ``env.abort``, ``env.trace``, ``env.seed``, ``env.console.*`` and ``env.Date.now``.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

import wasmtime

from infra import strict_json
from runner.assemblyscript.abi import (
    HOST_IMPORTS,
    HOST_MODULE,
    REQUIRED_EXPORTS,
    REQUIRED_MEMORY,
    STRING_CLASS_ID,
    GuestMemory,
    describe,
    format_trace,
    signature_of,
)
from runner.assemblyscript.fastcall import call_i32, export_func, export_memory
from runner.assemblyscript.host_api import HostApiImports, new_string
from runner.assemblyscript.traps import failure_from_error, failure_from_trap
from runner.contract import Limits, RunRequest, RunResult, RunStatus
from runner.engine import new_store
from runner.errors import GuestFailure, RetryRequested
from runner.logs import LogBuffer
from runner.messages import output_too_large_message
from runner.modules import CompileHook, ModuleCache
from runner.sandbox.host_channel import HostChannel

_I32 = wasmtime.ValType.i32()
_F64 = wasmtime.ValType.f64()


@dataclass(frozen=True, kw_only=True, slots=True)
class PreparedModule:
    """A compiled module whose imports are resolved, ready for a fresh instance per run."""

    pre: wasmtime.InstancePre


class _RunContext:
    """Per-run state the host functions (defined once per Linker) write to."""

    __slots__ = ("context_json", "host", "last_response", "limits", "logs", "memory")

    def __init__(self, limits: Limits, context_json: str = "null", host: HostChannel | None = None) -> None:
        self.context_json = context_json
        self.host = host
        self.last_response: dict | None = None
        self.limits = limits
        self.logs = LogBuffer(limits.max_log_bytes)
        self.memory: GuestMemory | None = None


class AssemblyScriptRunner:
    """Executes AssemblyScript-ABI modules; one per subprocess, one run at a time."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        *,
        cache_capacity: int = 64,
        cache_dir: str | os.PathLike[str] | None = None,
        on_compile: CompileHook | None = None,
    ) -> None:
        self._engine = engine
        self._ctx: _RunContext | None = None
        self._linker = self._make_linker()
        self._allowed = {(HOST_MODULE, name) for name in HOST_IMPORTS}
        self.modules: ModuleCache[PreparedModule] = ModuleCache(
            engine,
            self._prepare,
            capacity=cache_capacity,
            cache_dir=cache_dir,
            on_compile=on_compile,
        )

    def run(self, request: RunRequest, host: HostChannel | None = None) -> RunResult:
        """Run ``handle(request.input_json)`` in a fresh instance and validate its output."""
        limits = request.limits
        ctx = _RunContext(limits, request.context_json, host)
        started = time.perf_counter()
        retry: RetryRequested | None = None
        try:
            prepared = self.modules.load(request.artifact)
            started = time.perf_counter()
            self._ctx = ctx
            store = new_store(self._engine, limits)
            output = self._call(prepared, store, ctx, request.input_json)
            status, message = RunStatus.COMPLETED, None
        except RetryRequested as failure:
            status, message, output = failure.status, failure.message, None
            retry = failure
        except GuestFailure as failure:
            status, message, output = failure.status, failure.message, None
        except wasmtime.Trap as trap:
            failure = failure_from_trap(trap, limits, ctx.memory, request.artifact)
            status, message, output = failure.status, failure.message, None
        except wasmtime.WasmtimeError as error:
            failure = failure_from_error(error, limits)
            status, message, output = failure.status, failure.message, None
        finally:
            self._ctx = None
        duration_ms = (time.perf_counter() - started) * 1000.0
        return RunResult(
            status=status,
            output_json=output,
            error_message=message,
            logs=ctx.logs.text(),
            duration_ms=duration_ms,
            memory_peak_bytes=ctx.memory.data_len() if ctx.memory is not None else None,
            retry_requested=retry is not None,
            retry_delay_ms=retry.delay_ms if retry is not None else None,
        )

    def _call(
        self, prepared: PreparedModule, store: wasmtime.Store, ctx: _RunContext, input_json: str
    ) -> str:
        instance = prepared.pre.instantiate(store)
        memory = ctx.memory = GuestMemory(export_memory(store, instance, b"memory"), store)
        encoded = input_json.encode("utf-16-le")
        ptr = call_i32(store, export_func(store, instance, b"__new"), len(encoded), STRING_CLASS_ID)
        memory.write(ptr, encoded)
        # Pinned so a collection inside handle() cannot free the argument. No __unpin:
        # the Store and everything in it is dropped after this run.
        call_i32(store, export_func(store, instance, b"__pin"), ptr)
        out_ptr = call_i32(store, export_func(store, instance, b"handle"), ptr)
        return _read_output(memory, out_ptr, ctx.limits)

    def _prepare(self, module: wasmtime.Module) -> PreparedModule:
        for imp in module.imports:
            if (imp.module, imp.name) not in self._allowed:
                allowed = ", ".join(f"{m}.{n}" for m, n in sorted(self._allowed))
                raise GuestFailure(
                    f"unsupported import {imp.module}.{imp.name}: functions may only import "
                    f"{allowed} (compile without WASI or other host bindings)"
                )
        exports = {exp.name: exp.type for exp in module.exports}
        for name in (*REQUIRED_EXPORTS, REQUIRED_MEMORY):
            if name not in exports:
                raise GuestFailure(
                    f"invalid ABI export: module does not export {name} (compile with "
                    "--exportRuntime and export function handle(input: string): string)"
                )
        if not isinstance(exports[REQUIRED_MEMORY], wasmtime.MemoryType):
            raise GuestFailure("invalid ABI export: memory is not a linear memory")
        for name, expected in REQUIRED_EXPORTS.items():
            ty = exports[name]
            # The per-run calls skip type checks (fastcall), so the types are checked here.
            if not isinstance(ty, wasmtime.FuncType) or signature_of(ty) != expected:
                raise GuestFailure(f"invalid ABI export: {name} must be a function {describe(expected)}")
        try:
            return PreparedModule(pre=self._linker.instantiate_pre(module))
        except wasmtime.WasmtimeError as exc:
            raise GuestFailure(f"cannot link module: {exc}") from exc

    # Host functions: defined once on the Linker, they find the current run via self._ctx.

    def _make_linker(self) -> wasmtime.Linker:
        linker = wasmtime.Linker(self._engine)
        handlers = {
            "abort": self._abort,
            "trace": self._trace,
            "seed": _seed,
            "Date.now": _date_now,
            "pnil.context": self._context,
            **HostApiImports(lambda: self._ctx).handlers(),
        }
        for name, signature in HOST_IMPORTS.items():
            func = self._console if name.startswith("console.") else handlers[name]
            linker.define_func(HOST_MODULE, name, _functype(signature), func, access_caller=True)
        return linker

    def _abort(self, caller: wasmtime.Caller, msg: int, file: int, line: int, col: int) -> None:
        memory = _caller_memory(caller)
        message = _argument(memory, msg, "abort", 4096)
        where = _argument(memory, file, "abort", 1024)
        text = message or "abort() called"
        if where:
            text = f"{text} at {where}:{line}:{col}"
        raise GuestFailure(text)

    def _trace(self, caller: wasmtime.Caller, msg: int, n: int, *args: float) -> None:
        ctx = self._ctx
        if ctx is None or ctx.logs.full:
            return
        text = _argument(_caller_memory(caller), msg, "trace", 65536)
        ctx.logs.append(format_trace(text, n, args))

    def _context(self, caller: wasmtime.Caller) -> int:
        ctx = self._ctx
        return new_string(caller, ctx.context_json if ctx is not None else "null")

    def _console(self, caller: wasmtime.Caller, msg: int) -> None:
        ctx = self._ctx
        if ctx is None or ctx.logs.full:
            return
        ctx.logs.append(_argument(_caller_memory(caller), msg, "console.log", 65536))


_VALTYPES = {"i32": _I32, "f64": _F64}


def _functype(signature: tuple[tuple[str, ...], tuple[str, ...]]) -> wasmtime.FuncType:
    params, results = signature
    return wasmtime.FuncType([_VALTYPES[p] for p in params], [_VALTYPES[r] for r in results])


def _argument(memory: GuestMemory | None, ptr: int, function: str, max_chars: int) -> str:
    """A string argument of a host function; a bad pointer is the caller's fault, said as such."""
    if memory is None:
        return ""
    try:
        return memory.read_string(ptr, max_chars=max_chars)
    except GuestFailure as exc:
        raise GuestFailure(f"{function}() was passed an invalid string pointer ({ptr}): {exc}") from exc


def _caller_memory(caller: wasmtime.Caller) -> GuestMemory | None:
    memory = caller.get("memory")
    return GuestMemory(memory, caller) if isinstance(memory, wasmtime.Memory) else None


def _seed(caller: wasmtime.Caller) -> float:
    return random.random() * 2.0**52


def _date_now(caller: wasmtime.Caller) -> float:
    return float(time.time_ns() // 1_000_000)


def _read_output(memory: GuestMemory, ptr: int, limits: Limits) -> str:
    limit = limits.max_output_size_bytes
    if ptr == 0:
        raise GuestFailure("function returned invalid JSON: handle() returned null")
    size = memory.string_byte_length(ptr)
    # Each UTF-16 code unit becomes at least one UTF-8 byte, so half the UTF-16 size is a
    # lower bound: an oversized result is rejected before it is copied out.
    if size // 2 > limit:
        raise GuestFailure(output_too_large_message(size // 2, limits, at_least=True))
    text = memory.read(ptr, size).decode("utf-16-le", errors="replace")
    encoded_len = len(text.encode("utf-8"))
    if encoded_len > limit:
        raise GuestFailure(output_too_large_message(encoded_len, limits))
    try:
        strict_json.loads(text)
    except ValueError as exc:
        preview = text if len(text) <= 80 else text[:80] + "…"
        raise GuestFailure(
            f"function returned invalid JSON: {exc} (output starts with {preview!r}); "
            "return JSON.stringify'd data"
        ) from exc
    return text


def make_runner(
    engine: wasmtime.Engine,
    *,
    cache_dir: str | None = None,
    cache_capacity: int = 64,
    on_compile: CompileHook | None = None,
) -> AssemblyScriptRunner:
    """The sandbox child's entry (runner/languages.py): one runner per subprocess."""
    return AssemblyScriptRunner(
        engine, cache_capacity=cache_capacity, cache_dir=cache_dir, on_compile=on_compile
    )
