"""Turns a function's source into the artifact the runner executes, by language."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from compiler.asc import AscCompiler
from compiler.errors import CompileError
from compiler.wasm_module import check_abi, validate_wasm_module
from runner.contract import LANGUAGES, Language
from runner.javascript.runner import JavaScriptCompileError, check_javascript
from runner.python.runner import PythonCompileError, check_python

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Compilers:
    """One per compiler process: up to `slots` warm AssemblyScript compilers, JS and wasm checks.

    Each slot is its own Node process, so a source that makes asc crash or run to its timeout
    holds one slot, and the other slots keep compiling everyone else's jobs. Slots beyond the
    first start when concurrent jobs need them.
    """

    def __init__(self, *, timeout_s: float = 60.0, slots: int = 2) -> None:
        self.timeout_s = timeout_s
        self.slots = max(1, slots)
        self._made: list[AscCompiler] = []
        self._free: queue.Queue[AscCompiler] = queue.Queue()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the first slot's Node process now, not on the first job."""
        with self._lock:
            if self._made:
                return
            slot = self._new_slot()
        slot.start()
        self._free.put(slot)

    def _new_slot(self) -> AscCompiler:
        slot = AscCompiler(project_root=PROJECT_ROOT, timeout_s=self.timeout_s)
        self._made.append(slot)
        return slot

    @contextmanager
    def assemblyscript(self) -> Iterator[AscCompiler]:
        """A free slot for one compile: another is started while all are busy and fewer than
        `slots` exist (so a single-threaded worker never runs more than one), else wait."""
        self.start()
        try:
            slot = self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                slot = self._new_slot() if len(self._made) < self.slots else None
            if slot is None:
                slot = self._free.get()
        try:
            yield slot
        finally:
            self._free.put(slot)

    def warm_interpreters(self) -> None:
        """Load QuickJS and CPython once now, so the first job of each does not pay for it."""
        check_javascript("function handle(input) { return input; }")
        check_python("def handle(input, context=None):\n    return input\n")

    def compile(self, language: str, source: str) -> bytes:
        """The artifact for a source; raises CompileError for a user's mistake."""
        if language == Language.ASSEMBLYSCRIPT:
            with self.assemblyscript() as asc:
                binary = asc.compile(source)
            # asc accepts sources the runner cannot run (no handle, imports it does not provide):
            # say so now, not at every execution.
            check_abi(binary, source_terms=True)
            return binary
        if language == Language.JAVASCRIPT:
            try:
                return check_javascript(source)
            except JavaScriptCompileError as exc:
                raise CompileError(str(exc)) from exc
        if language == Language.PYTHON:
            try:
                return check_python(source)
            except PythonCompileError as exc:
                raise CompileError(str(exc)) from exc
        if language == Language.WASM:
            return validate_wasm_module(source)
        raise CompileError(f"no compiler for language {language!r}; use one of: {', '.join(LANGUAGES)}")

    def close(self) -> None:
        """Stop the Node processes."""
        for slot in self._made:
            slot.close()
