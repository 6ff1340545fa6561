"""The one wasmtime Engine of a runner subprocess and the Stores every run gets from it.

Wall time is enforced by epoch interruption, but without a periodic tick: every Store
is created with a deadline of one epoch tick, and a single timer thread per Engine
bumps the epoch once, at the run's deadline. An idle subprocess therefore never wakes
up, and the interruption fires within about 1 ms of the limit (the resolution of
``threading.Condition.wait``). Every language's runner takes its Stores from
:func:`new_store`, so all get the same limits.

One run at a time per Engine: arming the timer for a new Store supersedes the previous
deadline (a runner subprocess executes one run at a time by design).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

import wasmtime

from runner.contract import Limits

# Deep enough for real recursive code, small enough that runaway recursion traps in
# milliseconds instead of exhausting the native stack of the subprocess.
MAX_WASM_STACK_BYTES = 512 * 1024
# Tables of AssemblyScript and QuickJS modules stay far below this; it bounds the
# host memory a module can take through tables rather than its linear memory.
MAX_TABLE_ELEMENTS = 1_000_000
# The Python runtime component's core instances and memories, with room to spare.
COMPONENT_INSTANCES = 64
COMPONENT_MEMORIES = 8
# The deadline of a Store not armed yet: far enough that no epoch bump reaches it.
IDLE_DEADLINE_TICKS = 1 << 40

R = TypeVar("R")
_TIMERS: weakref.WeakKeyDictionary[wasmtime.Engine, EpochTimer] = weakref.WeakKeyDictionary()
_TIMERS_LOCK = threading.Lock()


def engine_config() -> wasmtime.Config:
    """The Config every runner Engine is built from (also part of the on-disk cache key)."""
    config = wasmtime.Config()
    config.epoch_interruption = True
    config.max_wasm_stack = MAX_WASM_STACK_BYTES
    config.cranelift_opt_level = "speed"
    # Guests are untrusted: no threads or shared memory, nothing that could outlive a Store.
    config.wasm_threads = False
    config.shared_memory = False
    return config


def engine_fingerprint() -> str:
    """A string that changes whenever compiled modules of another Engine would be invalid."""
    from importlib.metadata import version

    return f"wasmtime-{version('wasmtime')};stack={MAX_WASM_STACK_BYTES};epoch;opt=speed"


def make_engine() -> wasmtime.Engine:
    """A new Engine with the runner configuration and its epoch deadline timer."""
    engine = wasmtime.Engine(engine_config())
    with _TIMERS_LOCK:
        _TIMERS[engine] = EpochTimer(engine)
    return engine


def new_store(engine: wasmtime.Engine, limits: Limits, *, component: bool = False) -> wasmtime.Store:
    """A fresh Store with the memory limit set and the wall-time deadline armed."""
    store = idle_store(engine, limits, component=component)
    arm(store, limits)
    return store


def idle_store(engine: wasmtime.Engine, limits: Limits, *, component: bool = False) -> wasmtime.Store:
    """A Store with the memory limit set whose deadline is not armed yet: for instantiating
    trusted runtime code ahead of a run (call :func:`arm` when the run starts).

    A component (the Python runtime) is several core instances with a few small memories of
    their own (WASI adapters); ``memory_size`` bounds each memory, so the interpreter's heap.
    """
    store = wasmtime.Store(engine)
    limit_memory(store, limits, component=component)
    store.set_epoch_deadline(IDLE_DEADLINE_TICKS)
    return store


def limit_memory(store: wasmtime.Store, limits: Limits, *, component: bool = False) -> None:
    """Set (or replace) the Store's limits: the run's memory, and fixed counts of the rest."""
    store.set_limits(
        memory_size=limits.max_memory_bytes,
        table_elements=MAX_TABLE_ELEMENTS,
        instances=COMPONENT_INSTANCES if component else 10,
        tables=COMPONENT_INSTANCES if component else 10,
        memories=COMPONENT_MEMORIES if component else 1,
    )


def arm(store: wasmtime.Store, limits: Limits) -> None:
    """Start the run's wall-time limit: the Store traps ``max_execution_time_ms`` from now."""
    timer = _TIMERS.get(store.engine)
    if timer is None:
        raise ValueError("engine was not created by runner.engine.make_engine()")
    timer.arm(store, limits.max_execution_time_ms)


class PerEngine(Generic[R]):
    """One object per Engine, made by ``factory`` on first use (the compile checks' runners);
    without an Engine, a private one made once per process."""

    def __init__(self, factory: Callable[[wasmtime.Engine], R]) -> None:
        self._factory = factory
        self._made: weakref.WeakKeyDictionary[wasmtime.Engine, R] = weakref.WeakKeyDictionary()
        self._default: wasmtime.Engine | None = None
        self._lock = threading.Lock()

    def get(self, engine: wasmtime.Engine | None = None) -> R:
        with self._lock:
            if engine is None:
                if self._default is None:
                    self._default = make_engine()
                engine = self._default
            made = self._made.get(engine)
            if made is None:
                made = self._made[engine] = self._factory(engine)
            return made


class EpochTimer:
    """Bumps the Engine's epoch once, when the current run's deadline passes."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        # A weak reference: the timer thread must not keep the Engine alive.
        self._engine = weakref.ref(engine)
        self._cond = threading.Condition(threading.Lock())
        self._deadline: float | None = None
        self._waiting_until: float | None = None
        thread = threading.Thread(target=self._loop, name="epoch-timer", daemon=True)
        thread.start()

    def arm(self, store: wasmtime.Store, timeout_ms: int) -> None:
        """Trap ``store`` with TrapCode.INTERRUPT ``timeout_ms`` from now."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        with self._cond:
            # Under the lock: the timer cannot bump the epoch between this deadline being
            # set and the new run's deadline replacing the old one.
            store.set_epoch_deadline(1)
            self._deadline = deadline
            # The thread re-checks when it wakes up; only wake it early when needed, which
            # keeps a GIL hand-off off the per-run path for runs with equal limits.
            if self._waiting_until is None or deadline < self._waiting_until:
                self._cond.notify()

    def _loop(self) -> None:
        with self._cond:
            while True:
                deadline = self._deadline
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    engine = self._engine()
                    if engine is None:
                        return
                    engine.increment_epoch()
                    del engine
                    self._deadline = None
                    continue
                self._waiting_until = deadline
                self._cond.wait(None if deadline is None else deadline - now)
                self._waiting_until = None
                if self._engine() is None:
                    return
