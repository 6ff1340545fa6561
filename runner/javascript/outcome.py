"""Turning what one QuickJS instance left behind into a RunResult or a compile problem."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import wasmtime

from infra import strict_json
from runner.contract import Limits, RunResult, RunStatus
from runner.javascript.wrapper import Envelope, source_position, split_stderr, user_stack
from runner.logs import TRUNCATED_MARKER
from runner.messages import memory_message, output_too_large_message, timeout_message

_MODULE_SYNTAX = re.compile(r"^\s*(?:export|import)\b(?!\s*\()", re.MULTILINE)
NO_HANDLE = "no handle function defined: define `function handle(input, context) { ... }`"
_RETURN_HINT = "return a JSON-compatible value (object, array, string, number, boolean or null)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    """The raw end of one instance: qjs_init_argv's status or the trap, and its channels."""

    status: int | None = None
    trap: Exception | None = None
    logs: str = ""
    logs_truncated: bool = False
    stderr: bytes = b""
    memory_peak_bytes: int = 0
    failure: str | None = None  # a problem found before the instance ran

    @classmethod
    def failed(cls, message: str) -> Outcome:
        """An outcome for a run that could not start."""
        return cls(failure=message)

    def result(self, limits: Limits) -> RunResult:
        """The RunResult of a run (duration is filled in by the caller)."""
        diagnostics, envelope = split_stderr(self.stderr)
        logs = _join_logs(self.logs, diagnostics, self.logs_truncated)

        def done(status: RunStatus, message: str | None, output: str | None = None) -> RunResult:
            return RunResult(
                status=status,
                output_json=output,
                error_message=message,
                logs=logs,
                memory_peak_bytes=self.memory_peak_bytes,
            )

        if self.failure is not None:
            return done(RunStatus.FAILED, self.failure)
        if self.trap is not None:
            status, message = self._trap_message(limits, "the function")
            return done(status, message)
        if envelope is None or self.status != 0:
            return done(RunStatus.FAILED, self._no_result(limits, diagnostics))
        if envelope.kind == "R":
            return self._output(envelope.payload, limits, done)
        retry = envelope.retry() if envelope.kind == "E" and envelope.error()["phase"] == "run" else None
        if retry is not None:
            delay = retry.get("delayMs")
            return replace(
                done(RunStatus.FAILED, envelope.error()["message"] or "retry requested"),
                retry_requested=True,
                retry_delay_ms=round(delay) if isinstance(delay, int | float) else None,
            )
        return done(RunStatus.FAILED, self._failure(envelope, limits))

    def check_problem(self, limits: Limits, source: str) -> str | None:
        """Why the checked source cannot be a function, or None when it defines ``handle``."""
        if self.failure is not None:
            return self.failure
        if self.trap is not None:
            if getattr(self.trap, "trap_code", None) == wasmtime.TrapCode.INTERRUPT:
                return (
                    f"the top-level code did not finish within the compile check's "
                    f"{limits.max_execution_time_ms} ms; do the work inside handle, not at the top level"
                )
            return self._trap_message(limits, "the top-level code")[1]
        diagnostics, envelope = split_stderr(self.stderr)
        if envelope is None or self.status != 0:
            return self._no_result(limits, diagnostics)
        if envelope.kind == "C":
            return None if envelope.payload == "function" else NO_HANDLE
        if envelope.kind == "E":
            error = envelope.error()
            where = source_position(error["stack"])
            text = f"{error['name']}: {error['message']}" if error["name"] else error["message"]
            last_line = source.count("\n") + 1
            if where is not None and where[0] > last_line:
                # Past the last line: the parser ran into the end of the source.
                text = f"{error['name']}: unexpected end of input at line {last_line}"
                text += " (a bracket, brace or string is not closed)"
            elif where is not None:
                text += f" at line {where[0]}, column {where[1]}"
            if error["name"] == "SyntaxError" and _MODULE_SYNTAX.search(source):
                text += (
                    " (a function is a script, not a module: write `function handle(input, context)"
                    " { ... }` without export or import)"
                )
            if error["name"] != "SyntaxError":
                text += " (while running the top-level code)"
            return text
        return self._failure(envelope, limits)

    def _output(self, text: str, limits: Limits, done) -> RunResult:
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > limits.max_output_size_bytes:
            return done(RunStatus.FAILED, output_too_large_message(size, limits))
        try:
            strict_json.loads(text)
        except strict_json.UnstorableJson as exc:
            return done(RunStatus.FAILED, f"the function's output cannot be stored: {exc}")
        except ValueError:
            return done(RunStatus.FAILED, "the function's output is not valid JSON")
        return done(RunStatus.COMPLETED, None, text)

    def _failure(self, envelope: Envelope, limits: Limits) -> str:
        kind, payload = envelope.kind, envelope.payload
        if kind == "M":
            return NO_HANDLE
        if kind == "U":
            return f"handle returned {_a(payload)}, which is not JSON: {_RETURN_HINT}"
        if kind == "B":
            return output_too_large_message(int(payload), limits, at_least=True)
        if kind == "N":
            if self._near_memory_limit(limits):
                return memory_message(limits)
            return "uncaught exception: null"
        if kind == "E":
            error = envelope.error()
            head = f"{error['name']}: {error['message']}" if error["name"] else error["message"]
            if error["phase"] == "output":
                return f"the returned value is not JSON-serialisable: {head}; {_RETURN_HINT}"
            if error["message"] == "out of memory":
                head += f" (maxMemoryBytes is {limits.max_memory_bytes})"
            elif error["name"] == "RangeError" and "call stack" in error["message"]:
                head += " (stack overflow: the recursion is too deep)"
            stack = user_stack(error["stack"])
            return f"{head}\n{stack}" if stack else head
        return f"the JavaScript runtime reported an unknown result kind {kind!r}"

    def _trap_message(self, limits: Limits, who: str) -> tuple[RunStatus, str]:
        trap = self.trap
        code = getattr(trap, "trap_code", None)
        if code == wasmtime.TrapCode.INTERRUPT:
            return RunStatus.TIMEOUT, timeout_message(limits)
        if code == wasmtime.TrapCode.STACK_OVERFLOW:
            return RunStatus.FAILED, "InternalError: stack overflow (the recursion is too deep)"
        if isinstance(trap, wasmtime.ExitTrap):
            return RunStatus.FAILED, (f"{who} called exit({trap.code}); return a value from handle instead")
        if self._near_memory_limit(limits):
            return RunStatus.FAILED, memory_message(limits)
        first = str(trap).strip().splitlines()[0] if str(trap).strip() else type(trap).__name__
        return RunStatus.FAILED, f"the JavaScript runtime stopped: {first}"

    def _no_result(self, limits: Limits, diagnostics: str) -> str:
        if self._near_memory_limit(limits):
            return memory_message(limits)
        tail = diagnostics.strip()[-2000:]
        detail = f": {tail}" if tail else ""
        return f"the JavaScript runtime stopped without a result{detail}"

    def _near_memory_limit(self, limits: Limits) -> bool:
        return self.memory_peak_bytes >= 0.85 * limits.max_memory_bytes


def _join_logs(logs: str, diagnostics: str, truncated: bool) -> str:
    text = logs.rstrip("\n")
    if diagnostics.strip():
        text = f"{text}\n{diagnostics.rstrip()}" if text else diagnostics.rstrip()
    return text + TRUNCATED_MARKER if truncated else text


def _a(kind: str) -> str:
    return "undefined" if kind == "undefined" else f"a {kind}"
