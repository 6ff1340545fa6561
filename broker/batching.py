"""How many messages a consumer thread reads at once: about `batch_s` seconds of work.

A read has a cost of its own (the fair read counts the whole queue), so short messages are read
many at a time to pay it once per many; long ones are read a few at a time, so that another
tenant's message that arrives meanwhile waits for one short batch, not for many long messages
already in hand. The work a message takes is a moving average of how long this process's
threads took to handle the queue's recent messages (wall time: what a message read ahead waits).
"""

from __future__ import annotations

import math
import threading

# Weight of one handled message in the moving average: the last few dozen messages count.
WEIGHT = 0.05


class BatchSizer:
    """Sizes one queue's reads: `size()` messages, `record(seconds, count)` after handling them."""

    def __init__(self, *, most: int, batch_s: float | None) -> None:
        self.most = max(1, most)
        self.batch_s = batch_s
        self._per_message_s: float | None = None  # unknown until messages were handled
        self._lock = threading.Lock()

    def size(self) -> int:
        """`most` without a time target; else as many as take about batch_s, 1 to `most` (1 while
        nothing was measured yet: a first read of long messages must not take many)."""
        if self.batch_s is None:
            return self.most
        per_message = self._per_message_s
        if per_message is None:
            return 1
        if per_message <= 0:
            return self.most
        return max(1, min(self.most, math.floor(self.batch_s / per_message)))

    def record(self, seconds: float, count: int) -> None:
        """count messages were handled, one after the other, in `seconds` of wall time."""
        if count <= 0 or self.batch_s is None:
            return
        per_message = seconds / count
        with self._lock:
            if self._per_message_s is None:
                self._per_message_s = per_message
            else:
                # count messages at once weigh as count messages one by one would.
                keep = (1.0 - WEIGHT) ** count
                self._per_message_s = keep * self._per_message_s + (1.0 - keep) * per_message
