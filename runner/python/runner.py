"""Python functions run in the shared CPython runtime component, one fresh instance per run.

The artifact of a Python function is its checked UTF-8 source (the runtime is shared and
named by version in the compiler version), as for JavaScript. Every run instantiates the
pre-initialised runtime anew, so nothing a run leaves in a module global reaches the next.

Limits: wall time by the Store's epoch deadline (TIMEOUT), memory by the Store's limit on the
interpreter's linear memory (CPython raises MemoryError, reported FAILED), recursion by
CPython's recursion limit (RecursionError) with wasmtime's stack limit behind it, output size
checked inside the sandbox before the text leaves it, logs capped inside it. WASI preview 2
with nothing granted: no preopened directory, no environment, no arguments, no stdin; socket
addresses and name lookups are refused by wasmtime's defaults.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time

import wasmtime
from wasmtime import component

from infra import strict_json
from runner.contract import MIB, Language, Limits, RunRequest, RunResult, RunStatus
from runner.engine import PerEngine, arm, idle_store, limit_memory
from runner.errors import RunnerError
from runner.logs import TRUNCATED_MARKER
from runner.messages import memory_message, output_too_large_message, timeout_message
from runner.python.hints import with_import_hint
from runner.python.runtime import load_runtime
from runner.sandbox.host_channel import HostChannel

CHECK_LIMITS = Limits(max_execution_time_ms=2_000, max_memory_bytes=64 * MIB)
WARM_UP_SOURCE = "def handle(input, context=None):\n    return input\n"
# The limits an instance is made under before its run sets the run's own.
IDLE_LIMITS = Limits(max_memory_bytes=1024 * MIB)
# Cases of the guest's status enum (wit/runtime.wit).
COMPLETED, OUTPUT_TOO_LARGE, OUT_OF_MEMORY = "completed", "output-too-large", "out-of-memory"
RETRY = "retry"
_INITIAL_PAGES = re.compile(r"memory minimum size of (\d+) pages exceeds memory limits")
NO_HOST_WHILE_CHECKING = json.dumps(
    {"error": "the host API is not available while the source is checked; call it inside handle"}
)
NO_HOST = json.dumps({"error": "the host API is not available to this run"})


class PythonCompileError(RunnerError):
    """The source cannot become a Python function; the message says why and where."""


class PythonRunner:
    """Runs Python artifacts in the CPython runtime; one run at a time per instance of this class."""

    def __init__(self, engine: wasmtime.Engine, *, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self._engine = engine
        self._component = load_runtime(engine, cache_dir)
        self._linker = component.Linker(engine)
        self._linker.add_wasip2()
        with self._linker.root() as root:
            root.add_func("host-call", self._host_call)
        self._host: HostChannel | None = None
        self._no_host = NO_HOST
        self._lock = threading.Lock()
        # An instance made while the runner was idle, never run: a run takes it instead of
        # instantiating on its own time; and the last run's Store, dropped once idle again.
        self._fresh: tuple[wasmtime.Store, component.Instance] | None = None
        self._spent: wasmtime.Store | None = None
        self._initial_memory = self._probe_initial_memory()

    def run(self, request: RunRequest, host: HostChannel | None = None) -> RunResult:
        """Run ``handle(input, context)`` of the artifact's source and report how it ended."""
        if request.language is not Language.PYTHON:
            raise ValueError(f"PythonRunner cannot run {request.language.value} artifacts")
        started = time.perf_counter()
        limits = request.limits
        try:
            source = request.artifact.decode("utf-8")
        except UnicodeDecodeError:
            return _failed("the stored Python source is not UTF-8 text; save the function again")
        args = (
            source,
            request.input_json,
            request.context_json,
            limits.max_output_size_bytes,
            limits.max_log_bytes,
        )
        try:
            outcome = self._call("run", args, limits, host)
        except wasmtime.WasmtimeError as exc:
            result = _trap_result(exc, limits)
        else:
            result = _outcome_result(outcome, limits)
        return dataclasses.replace(result, duration_ms=(time.perf_counter() - started) * 1000.0)

    def check(self, source: str) -> bytes:
        """The artifact for ``source``; raises PythonCompileError when it is unusable."""
        try:
            problem = self._call("check", (source,), CHECK_LIMITS, None, no_host=NO_HOST_WHILE_CHECKING)
        except wasmtime.WasmtimeError as exc:
            status, message = _trap(exc, CHECK_LIMITS)
            if status is RunStatus.TIMEOUT:
                message = (
                    f"the top-level code did not finish within the compile check's "
                    f"{CHECK_LIMITS.max_execution_time_ms} ms; do the work inside handle,"
                    " not at the top level"
                )
            raise PythonCompileError(message) from exc
        if problem is not None:
            raise PythonCompileError(with_import_hint(problem))
        return source.encode("utf-8")

    @property
    def prepared(self) -> bool:
        """True when the next run will take an instance made while idle."""
        return self._fresh is not None

    def idle(self) -> None:
        """Between runs: drop the last run's Store and make the next run's instance now."""
        with self._lock:
            self._spent = None
            if self._fresh is None and self._initial_memory is not None:
                store, instance = self._instantiate(IDLE_LIMITS)
                # Our own trivial check, no user's data: the pages a run writes first are
                # copied now rather than on the run's time.
                instance.get_func(store, "check")(store, WARM_UP_SOURCE)
                self._fresh = store, instance

    def _call(self, export: str, args: tuple, limits: Limits, host: HostChannel | None, *, no_host=NO_HOST):
        with self._lock:
            self._host, self._no_host = host, no_host
            try:
                store, instance = self._take_fresh(limits) or self._instantiate(limits)
                arm(store, limits)
                self._spent = store
                return instance.get_func(store, export)(store, *args)
            finally:
                self._host = None

    def _take_fresh(self, limits: Limits) -> tuple[wasmtime.Store, component.Instance] | None:
        fresh, self._fresh = self._fresh, None
        if fresh is None or self._initial_memory is None or limits.max_memory_bytes < self._initial_memory:
            return None  # below the runtime's own size: instantiating under the limit says so
        limit_memory(fresh[0], limits, component=True)
        return fresh

    def _instantiate(self, limits: Limits) -> tuple[wasmtime.Store, component.Instance]:
        store = idle_store(self._engine, limits, component=True)
        # WASI preview 2 with nothing granted: no preopens, environment, arguments or stdin.
        store.set_wasi(wasmtime.WasiConfig())
        return store, self._linker.instantiate(store, self._component)

    def _probe_initial_memory(self) -> int | None:
        """The bytes of memory the runtime starts with (an instance made under a one-page limit
        fails and names it); None when wasmtime does not say, and then no instance is made early."""
        try:
            self._instantiate(Limits(max_memory_bytes=65536))
        except wasmtime.WasmtimeError as exc:
            found = _INITIAL_PAGES.search(str(exc))
            return int(found.group(1)) * 65536 if found else None
        return 65536

    def _host_call(self, _store: wasmtime.Store, request: str) -> str:
        if self._host is None:
            return self._no_host
        return self._host.call_raw(request.encode("utf-8")).decode("utf-8", errors="replace")


def _outcome_result(outcome, limits: Limits) -> RunResult:
    logs = outcome.logs.rstrip("\n") + (TRUNCATED_MARKER if getattr(outcome, "logs-truncated") else "")
    status, text = outcome.status, outcome.text
    if status == COMPLETED:
        try:
            strict_json.loads(text)
        except strict_json.UnstorableJson as exc:
            return _failed(f"the function's output cannot be stored: {exc}", logs)
        return RunResult(status=RunStatus.COMPLETED, output_json=text, logs=logs)
    if status == OUTPUT_TOO_LARGE:
        return _failed(output_too_large_message(int(text), limits), logs)
    if status == OUT_OF_MEMORY:
        return _failed(memory_message(limits), logs)
    if status == RETRY:
        asked = json.loads(text)
        delay = asked.get("delayMs")
        return RunResult(
            status=RunStatus.FAILED,
            error_message=asked.get("message") or "retry requested",
            logs=logs,
            retry_requested=True,
            retry_delay_ms=round(delay) if isinstance(delay, int | float) else None,
        )
    return _failed(with_import_hint(text), logs)


def _trap_result(exc: wasmtime.WasmtimeError, limits: Limits) -> RunResult:
    status, message = _trap(exc, limits)
    return RunResult(status=status, error_message=message)


def _trap(exc: wasmtime.WasmtimeError, limits: Limits) -> tuple[RunStatus, str]:
    """What a trap of the runtime (or a failed instantiation) means for the user."""
    text = str(exc)
    initial = _INITIAL_PAGES.search(text)
    if initial is not None:
        needed = int(initial.group(1)) * 65536
        return RunStatus.FAILED, (
            f"maxMemoryBytes {limits.max_memory_bytes} is too small for the Python runtime, which "
            f"starts with {needed} bytes; raise the limit (to {needed + 4 * MIB} or more)"
        )
    if "wasm trap: interrupt" in text:
        return RunStatus.TIMEOUT, timeout_message(limits)
    if "call stack exhausted" in text or "stack overflow" in text:
        return RunStatus.FAILED, "stack overflow: the recursion is too deep"
    if "memory" in text and ("grow" in text or "out of bounds" in text or "limit" in text):
        return RunStatus.FAILED, memory_message(limits)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return RunStatus.FAILED, f"the Python runtime stopped: {lines[-1] if lines else type(exc).__name__}"


def _failed(message: str, logs: str = "") -> RunResult:
    return RunResult(status=RunStatus.FAILED, error_message=message, logs=logs)


_CHECKERS = PerEngine(PythonRunner)


def check_python(source: str, engine: wasmtime.Engine | None = None) -> bytes:
    """Validate a Python function's source in the sandbox and return its artifact.

    ``engine`` must come from :func:`runner.engine.make_engine`; without one, a private
    Engine is made once per process.
    """
    return _CHECKERS.get(engine).check(source)


def make_runner(engine: wasmtime.Engine, *, cache_dir: str | None = None, **_options: object) -> PythonRunner:
    """The sandbox child's entry (runner/languages.py); it keeps no compiled-module cache of its own
    size and announces no compiles (cache_capacity, on_compile are AssemblyScript's)."""
    return PythonRunner(engine, cache_dir=cache_dir)
