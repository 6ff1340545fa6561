"""The runner package's exceptions."""

from __future__ import annotations

from runner.contract import RunStatus


class RunnerError(Exception):
    """Base of every error raised by the runner package."""


class GuestFailure(RunnerError):
    """A run ended without a valid result; carries the status and the user-facing message."""

    def __init__(self, message: str, status: RunStatus = RunStatus.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RetryRequested(GuestFailure):
    """The code asked for a retry (AssemblyScript `retry(message, delayMs)`): FAILED, retried
    within the retry policy's maxAttempts; `delay_ms` None means the policy's backoff."""

    def __init__(self, message: str, delay_ms: int | None = None) -> None:
        super().__init__(message)
        self.delay_ms = delay_ms


class PoolClosedError(RunnerError):
    """The pool was closed; no more runs are accepted."""
