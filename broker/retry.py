"""Retry policy as a value: how many times, how long to wait, which errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """Exponential backoff: base * factor**(attempt - 1), capped at max_delay."""

    max_retries: int = 5
    base_delay_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay_s < 0 or self.factor < 1 or self.max_delay_s < 0:
            raise ValueError(f"invalid retry policy {self}")

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait before the attempt after `attempt` (1-based) failed."""
        return min(self.max_delay_s, self.base_delay_s * self.factor ** max(0, attempt - 1))

    def exhausted(self, attempt: int) -> bool:
        """True when `attempt` failures leave no retry (attempt = pgmq read_ct)."""
        return attempt > self.max_retries
