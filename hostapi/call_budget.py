"""One run's share of its function's maxApiCallsPerMinute, reserved in blocks.

The budget is counted across all runs and hosts in `api_call_windows`, one row per function and
minute. Counting it one call at a time made every call, a kv.get too, a write to that row: a
round trip's worth of work in PostgreSQL, and concurrent runs of one function queued on the row's
lock. A run reserves calls instead, 1, 2, 4, ... at a time, up to 1 % of the minute's budget (so a
limit under 200 calls a minute is still counted call by call), spends them with no round trip,
and gives back what it did not spend when it ends (`HostApi.release`). A call past the budget is
refused exactly as before; what a run holds unspent is at most 1 % of the budget, and only until
it ends or the minute does.
"""

from __future__ import annotations

import time
from datetime import datetime

# A run holds at most this share of the minute's budget at once.
LARGEST_SHARE = 100


class CallBudget:
    """The calls one run holds for the current minute (one thread: the run's own)."""

    __slots__ = ("per_minute", "largest", "block", "held", "window", "ends", "unspent")

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.largest = max(1, per_minute // LARGEST_SHARE)
        self.block = 1  # how many calls the next reservation asks for
        self.held = 0  # reserved calls of `window` that this run may still spend
        self.unspent = 0  # reserved calls of `window` not spent: given back at the end
        self.window: datetime | None = None  # the minute they belong to (its window_start)
        self.ends = 0.0  # time.monotonic() at which that minute ends

    def take(self) -> bool:
        """Spend one held call of the current minute; False when a reservation must come first."""
        if self.held and time.monotonic() < self.ends:
            self.held -= 1
            self.unspent -= 1
            return True
        return False

    def reserved(self, total: int, window: datetime, seconds_left: float) -> int:
        """Record that reserving `block` calls brought the minute's count to `total`; spends one.

        Returns the minute's count up to this call, as counting it alone would have: over
        `per_minute` means the call is refused (a reservation near the limit is granted in part).
        """
        asked = self.block
        granted = min(asked, max(0, self.per_minute - (total - asked)))
        if window != self.window:  # a new minute: what was held for the last one is void
            self.window, self.unspent = window, 0
        self.ends = time.monotonic() + seconds_left
        self.held = max(0, granted - 1)
        self.unspent += asked - min(granted, 1)
        self.block = min(self.largest, asked * 2) if granted == asked else 1
        return total - asked + 1

    def give_back(self) -> tuple[datetime, int] | None:
        """The minute and the count of reserved calls not spent, when there are any to give back."""
        if self.unspent <= 0 or time.monotonic() >= self.ends or self.window is None:
            return None
        unspent, self.unspent, self.held = self.unspent, 0, 0
        return self.window, unspent
