"""JavaScript functions run inside QuickJS-NG compiled to WebAssembly, one fresh instance per run.

The artifact the compiler stores for a JavaScript function is its UTF-8 source: the
reactor exposes no bytecode compiler to the host, and parsing a function's source costs
QuickJS microseconds next to the instance itself. ``check_javascript`` is what makes an
artifact: it rejects sources with a SyntaxError (with line and column), top-level code
that throws, and sources that define no ``handle`` function.

Every run gets a new Store and instance, so nothing on ``globalThis`` survives a run.
Limits: wall time by the Store's epoch deadline (:mod:`runner.engine`), memory by the
Store's limit and QuickJS's own heap limit below it, recursion by QuickJS's stack limit
(a catchable ``RangeError``) with wasmtime's stack limit behind it, output size checked
inside the sandbox before the text leaves it.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import threading
import time

import wasmtime

from runner.contract import MIB, Language, Limits, RunRequest, RunResult, RunStatus
from runner.engine import MAX_WASM_STACK_BYTES, PerEngine, new_store
from runner.errors import RunnerError
from runner.javascript.host import ChannelSlot, RunChannels, make_linker
from runner.javascript.module import initial_memory_bytes, load_reactor
from runner.javascript.outcome import Outcome
from runner.javascript.wrapper import wrapper_source
from runner.sandbox.host_channel import HostChannel

# QuickJS measures its stack in linear memory, wasmtime its own native stack; a quarter
# keeps QuickJS's catchable RangeError ahead of wasmtime's trap for common recursion.
QUICKJS_STACK_BYTES = MAX_WASM_STACK_BYTES // 4
CHECK_LIMITS = Limits(max_execution_time_ms=2_000, max_memory_bytes=64 * MIB)


class JavaScriptCompileError(RunnerError):
    """The source cannot become a JavaScript function; the message says why and where."""


class JavaScriptRunner:
    """Runs JavaScript artifacts in QuickJS; one run at a time per instance of this class."""

    def __init__(self, engine: wasmtime.Engine, *, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self._engine = engine
        module = load_reactor(engine, cache_dir)
        self._initial_memory = initial_memory_bytes(module)
        self._slot = ChannelSlot()
        self._pre = make_linker(engine, self._slot).instantiate_pre(module)
        self._lock = threading.Lock()

    def run(self, request: RunRequest, host: HostChannel | None = None) -> RunResult:
        """Run ``handle(input)`` of the artifact's source and report how it ended."""
        if request.language is not Language.JAVASCRIPT:
            raise ValueError(f"JavaScriptRunner cannot run {request.language.value} artifacts")
        started = time.perf_counter()
        try:
            source = request.artifact.decode("utf-8")
        except UnicodeDecodeError:
            return RunResult(
                status=RunStatus.FAILED,
                error_message="the stored JavaScript is not UTF-8 text; save the function again",
            )
        outcome = self._execute(
            source,
            request.input_json,
            request.limits,
            check=False,
            context_json=request.context_json,
            host=host,
        )
        return dataclasses.replace(
            outcome.result(request.limits), duration_ms=(time.perf_counter() - started) * 1000.0
        )

    def check(self, source: str) -> bytes:
        """The artifact for ``source``; raises JavaScriptCompileError when it is unusable."""
        outcome = self._execute(source, "null", CHECK_LIMITS, check=True)
        problem = outcome.check_problem(CHECK_LIMITS, source)
        if problem is not None:
            raise JavaScriptCompileError(problem)
        return source.encode("utf-8")

    def _execute(
        self,
        source: str,
        input_json: str,
        limits: Limits,
        *,
        check: bool,
        context_json: str = "null",
        host: HostChannel | None = None,
    ) -> Outcome:
        heap_limit = self._heap_limit(limits.max_memory_bytes)
        if heap_limit is None:
            needed = self._initial_memory + 2 * MIB
            return Outcome.failed(
                f"maxMemoryBytes {limits.max_memory_bytes} is too small for the JavaScript "
                f"runtime, which needs at least {needed} bytes; raise the limit"
            )
        wrapper = wrapper_source(
            source,
            input_json,
            output_limit=limits.max_output_size_bytes,
            log_limit=limits.max_log_bytes,
            check=check,
            context_json=context_json,
        )
        argv = [
            "qjs",
            f"--memory-limit={heap_limit}b",
            f"--stack-size={QUICKJS_STACK_BYTES}b",
            "-m",
            "-e",
            wrapper,
        ]
        channels = RunChannels(
            log_limit=limits.max_log_bytes,
            # The envelope holds at most the output limit in UTF-16 units: 3 bytes each.
            stderr_limit=3 * limits.max_output_size_bytes + 64 * 1024,
            deadline=time.monotonic() + limits.max_execution_time_ms / 1000.0,
            host=host,
        )
        with self._lock:
            self._slot.channels = channels
            try:
                return self._call(argv, channels, limits)
            finally:
                self._slot.channels = None

    def _call(self, argv: list[str], channels: RunChannels, limits: Limits) -> Outcome:
        store = new_store(self._engine, limits)
        wasi = wasmtime.WasiConfig()
        store.set_wasi(wasi)
        memory: wasmtime.Memory | None = None
        trap: Exception | None = None
        status = None
        try:
            instance = self._pre.instantiate(store)
            exports = instance.exports(store)
            memory = exports["memory"]
            exports["_initialize"](store)
            pointer = _write_argv(store, exports, argv)
            if not pointer:
                return Outcome.failed(
                    "the source and input do not fit in maxMemoryBytes "
                    f"({limits.max_memory_bytes} bytes); send less data or raise the limit"
                )
            status = exports["qjs_init_argv"](store, len(argv), pointer)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            trap = exc
        peak = memory.data_len(store) if isinstance(memory, wasmtime.Memory) else None
        logs = bytes(channels.logs).decode("utf-8", errors="replace")
        return Outcome(
            status=status,
            trap=trap,
            logs=logs,
            logs_truncated=channels.logs_truncated,
            stderr=bytes(channels.stderr),
            memory_peak_bytes=peak,
        )

    def _heap_limit(self, max_memory_bytes: int) -> int | None:
        # QuickJS's limit sits below the Store's so that QuickJS throws "out of memory"
        # while wasm memory can still grow for the allocator's own overhead.
        room = max_memory_bytes - self._initial_memory
        heap = room - max(MIB, room // 8)
        return heap if heap >= MIB else None


def _write_argv(store: wasmtime.Store, exports: wasmtime.InstanceExports, argv: list[str]) -> int:
    """``argv`` as a C ``char **`` in the guest's memory; 0 when it does not fit."""
    malloc, memory = exports["malloc"], exports["memory"]
    encoded = [arg.encode("utf-8") + b"\0" for arg in argv]
    table = 4 * (len(encoded) + 1)
    base = malloc(store, table + sum(len(item) for item in encoded))
    if not base:
        return 0  # malloc failed: the Store's memory limit is reached
    pointers, blob, at = [], bytearray(), base + table
    for item in encoded:
        pointers.append(at)
        blob += item
        at += len(item)
    memory.write(store, struct.pack(f"<{len(pointers) + 1}I", *pointers, 0) + blob, base)
    return base


_CHECKERS = PerEngine(JavaScriptRunner)


def check_javascript(source: str, engine: wasmtime.Engine | None = None) -> bytes:
    """Validate a JavaScript function's source in the sandbox and return its artifact.

    ``engine`` must come from :func:`runner.engine.make_engine`; without one, a private
    Engine is made once per process.
    """
    return _CHECKERS.get(engine).check(source)


def make_runner(
    engine: wasmtime.Engine, *, cache_dir: str | None = None, **_options: object
) -> JavaScriptRunner:
    """The sandbox child's entry (runner/languages.py); it keeps no compiled-module cache of its own
    size and announces no compiles (cache_capacity, on_compile are AssemblyScript's)."""
    return JavaScriptRunner(engine, cache_dir=cache_dir)
