"""Resource limits: the defaults, per-function overrides, server-wide caps."""

from __future__ import annotations

from typing import Any

from runner.contract import Limits

_SANDBOX = Limits()  # the sandbox's own defaults: one home for them
DEFAULTS: dict[str, int] = {
    "maxExecutionTimeMs": _SANDBOX.max_execution_time_ms,
    "maxMemoryBytes": _SANDBOX.max_memory_bytes,
    "maxConcurrentRuns": 5,
    "maxApiCallsPerMinute": 60,
    "maxOutputSizeBytes": _SANDBOX.max_output_size_bytes,
}


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


def runner_limits(overrides: dict[str, Any] | None) -> Limits:
    """The limits the sandbox enforces for a function."""
    limits = effective(overrides)
    return Limits(
        max_execution_time_ms=limits["maxExecutionTimeMs"],
        max_memory_bytes=limits["maxMemoryBytes"],
        max_output_size_bytes=limits["maxOutputSizeBytes"],
    )
