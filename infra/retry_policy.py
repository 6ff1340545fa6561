"""The retry policy of queued executions, the one home of its rules: defaults, validation, and the
backoff formula (written once, in SQL, because the statement that records a failed attempt's
end computes when the next attempt runs).

A function's `retryPolicy` overrides the defaults field by field; a queued request's
`retryPolicy` overrides the function's the same way. The effective policy is stored on every
attempt of the chain, so a later change of the function's policy does not alter a chain that
already started.
"""

from __future__ import annotations

from typing import Any

from contracts.statuses import ExecutionStatus

DEFAULTS: dict[str, Any] = {
    "maxAttempts": 1,  # 1 = no retry
    "initialDelayMs": 1000,
    "backoffMultiplier": 2.0,
    "maxDelayMs": 300_000,
    "jitter": True,  # full jitter: a uniform delay between 0 and the backoff
    "retryOn": [ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT],
    "retryLost": False,  # a lost execution (its process died) may have run: at most once by default
}
MAX_ATTEMPTS = 20
RETRYABLE = (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT)
# The longest anything waits: a delayed start, runAt, maxQueueMs, a delay asked for from code.
MAX_WAIT_MS = 30 * 24 * 3600 * 1000
_INTEGERS = {
    "maxAttempts": (1, MAX_ATTEMPTS),
    "initialDelayMs": (0, MAX_WAIT_MS),
    "maxDelayMs": (0, MAX_WAIT_MS),
}


def problems(policy: Any) -> list[str]:
    """Why `policy` (a partial retryPolicy as the API takes it) is not valid; empty when it is."""
    if not isinstance(policy, dict):
        return ["retryPolicy must be a JSON object"]
    found = [
        f"retryPolicy.{name} is not a field; use {', '.join(DEFAULTS)}"
        for name in policy
        if name not in DEFAULTS
    ]
    for name, (low, high) in _INTEGERS.items():
        value = policy.get(name, DEFAULTS[name])
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            found.append(f"retryPolicy.{name} must be an integer from {low} to {high}")
    multiplier = policy.get("backoffMultiplier", DEFAULTS["backoffMultiplier"])
    if isinstance(multiplier, bool) or not isinstance(multiplier, int | float) or not 1 <= multiplier <= 10:
        found.append("retryPolicy.backoffMultiplier must be a number from 1 to 10")
    for name in ("jitter", "retryLost"):
        if not isinstance(policy.get(name, DEFAULTS[name]), bool):
            found.append(f"retryPolicy.{name} must be true or false")
    retry_on = policy.get("retryOn", DEFAULTS["retryOn"])
    if not isinstance(retry_on, list) or any(s not in RETRYABLE for s in retry_on):
        found.append(f"retryPolicy.retryOn must be a list of {' and '.join(RETRYABLE)}")
    return found


def effective(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """The defaults with each layer's fields applied in turn (function policy, then a request's)."""
    policy = dict(DEFAULTS)
    for layer in layers:
        policy.update(layer or {})
    policy["backoffMultiplier"] = float(policy["backoffMultiplier"])
    return policy


def delay_ms_sql(policy: str, attempt: str) -> str:
    """SQL for the wait before the attempt after `attempt` (1-based), from a stored effective
    `policy` (jsonb): initialDelayMs × backoffMultiplier^(attempt-1), capped at maxDelayMs, times
    a uniform random in [0, 1) with jitter."""
    return (
        f"(LEAST(({policy}->>'maxDelayMs')::float8, ({policy}->>'initialDelayMs')::float8 "
        f"* power(({policy}->>'backoffMultiplier')::float8, LEAST({attempt}, 60) - 1)) "
        f"* CASE WHEN ({policy}->>'jitter')::boolean THEN random() ELSE 1 END)"
    )


def retries_on_sql(policy: str, status: str) -> str:
    """SQL: whether the stored `policy` retries an attempt that ended with `status`."""
    return f"COALESCE(({policy}->'retryOn') ? {status}, false)"
