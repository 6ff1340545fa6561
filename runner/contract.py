"""The values that cross the boundary between the platform and the sandbox."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from contracts.statuses import ExecutionStatus
from infra.limits import DEFAULTS, MAX_LOG_BYTES, effective
from infra.settings import MIB

__all__ = ["LANGUAGES", "MIB", "Language", "Limits", "RunRequest", "RunResult", "RunStatus"]


class Language(enum.StrEnum):
    """What a function's artifact is and which engine runs it."""

    ASSEMBLYSCRIPT = "assemblyscript"
    JAVASCRIPT = "javascript"
    PYTHON = "python"
    WASM = "wasm"


# The one list of languages (the database's CHECK constraint guards it too).
LANGUAGES = tuple(language.value for language in Language)


# How one run in the sandbox ended: COMPLETED, FAILED, TIMEOUT or CANCELLED, the execution's
# own statuses (the one home of statuses is contracts/statuses.py).
RunStatus = ExecutionStatus


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Resource limits of one run, with the defaults a function gets unless it sets its own."""

    max_execution_time_ms: int = DEFAULTS["maxExecutionTimeMs"]
    max_memory_bytes: int = DEFAULTS["maxMemoryBytes"]
    max_output_size_bytes: int = DEFAULTS["maxOutputSizeBytes"]
    max_log_bytes: int = MAX_LOG_BYTES

    @classmethod
    def of_function(cls, resource_limits: dict | None) -> Limits:
        """The limits the sandbox enforces for a function with these `resourceLimits` overrides."""
        limits = effective(resource_limits)
        return cls(
            max_execution_time_ms=limits["maxExecutionTimeMs"],
            max_memory_bytes=limits["maxMemoryBytes"],
            max_output_size_bytes=limits["maxOutputSizeBytes"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRequest:
    """One execution: an artifact produced by the compiler, a JSON input, its limits."""

    language: Language
    artifact: bytes
    input_json: str
    limits: Limits = Limits()
    execution_id: str | None = None
    # {executionId, functionId, version, trigger: {type, ...triggerData}} as JSON text.
    context_json: str = "null"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    """What came out of the sandbox; output_json is validated JSON text when COMPLETED."""

    status: RunStatus
    output_json: str | None = None
    error_message: str | None = None
    logs: str = ""
    duration_ms: float = 0.0
    # The guest's peak linear memory; None when it was not measured (Python: the CPython runtime
    # is a component whose memory the host cannot see; a run that never reached the sandbox).
    memory_peak_bytes: int | None = None
    # Host API calls the code made (all kinds) and how many of them were key-value queries.
    api_calls: int = 0
    database_queries: int = 0
    # The code asked to be retried (pnil.Retry / retry()): FAILED, retried within maxAttempts
    # whatever retryOn says, after `retry_delay_ms` when it gave one.
    retry_requested: bool = False
    retry_delay_ms: int | None = None
