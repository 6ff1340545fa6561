"""Resource limits, the one home of their numbers: the defaults a function gets, the rule for
its overrides against the server's caps, and the mark a capped log ends with.

Every layer reads them from here: the sandbox's `runner.contract.Limits`, the store's SQL
defaults, the API's validation and answers, the host API's call budget.
"""

from __future__ import annotations

from typing import Any

from infra.settings import MIB

# A function's `resourceLimits` unless it sets its own.
DEFAULTS: dict[str, int] = {
    "maxExecutionTimeMs": 30_000,
    "maxMemoryBytes": 64 * MIB,
    "maxConcurrentRuns": 5,
    "maxApiCallsPerMinute": 60,
    "maxOutputSizeBytes": 1 * MIB,
}
# Most concurrency slots a function may ask for: each is an advisory lock tried in turn, so the
# slot statement's work is bounded by it (store/executions._TAKE_SLOT).
MAX_CONCURRENT_RUNS = 10_000
# What one run may print (not a per-function setting); past it the logs end with the mark.
MAX_LOG_BYTES = 64 * 1024
TRUNCATED_MARKER = "\n…[logs truncated]"


def effective(overrides: dict[str, Any] | None) -> dict[str, int]:
    """The defaults with a function's overrides applied."""
    return {**DEFAULTS, **(overrides or {})}


def over_caps(overrides: dict[str, Any], caps: dict[str, int]) -> list[str]:
    """Messages for every override above its server-wide cap."""
    return [
        f"resourceLimits.{name} is {overrides[name]}, above this server's cap of {cap}"
        for name, cap in caps.items()
        if name in overrides and overrides[name] > cap
    ]
