"""Turns a function's source into the artifact the runner executes, by language."""

from __future__ import annotations

import threading
from pathlib import Path

from runner.javascript import JavaScriptCompileError, check_javascript
from tasks.asc_compiler import AscCompiler
from tasks.compile_errors import CompileError
from tasks.wasm_module import check_abi, validate_wasm_module

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("assemblyscript", "javascript", "wasm")


class UnsupportedLanguage(Exception):  # noqa: N818
    """This compiler does not handle the job's language."""


class Compilers:
    """One per compiler process: a warm AssemblyScript compiler, JS and wasm checks."""

    def __init__(self, *, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self._asc: AscCompiler | None = None
        self._lock = threading.Lock()

    def assemblyscript(self) -> AscCompiler:
        """The process's warm asc (started on first use)."""
        with self._lock:
            if self._asc is None:
                self._asc = AscCompiler(project_root=PROJECT_ROOT, timeout_s=self.timeout_s)
            return self._asc

    def warm_javascript(self) -> None:
        """Load QuickJS once now, so the first JavaScript job does not pay for it."""
        check_javascript("function handle(input) { return input; }")

    def compile(self, language: str, source: str) -> bytes:
        """The artifact for a source; raises CompileError for a user's mistake."""
        if language == "assemblyscript":
            binary = self.assemblyscript().compile(source)
            # asc accepts sources the runner cannot run (no handle, imports it does not provide):
            # say so now, not at every execution.
            check_abi(binary, source_terms=True)
            return binary
        if language == "javascript":
            try:
                return check_javascript(source)
            except JavaScriptCompileError as exc:
                raise CompileError(str(exc)) from exc
        if language == "wasm":
            return validate_wasm_module(source)
        raise UnsupportedLanguage(f"no compiler for language {language!r}")

    def close(self) -> None:
        """Stop the Node process."""
        if self._asc is not None:
            self._asc.close()
