"""What a guest prints during one run, capped at the run's log limit."""

from __future__ import annotations

from infra.limits import TRUNCATED_MARKER

__all__ = ["TRUNCATED_MARKER", "LogBuffer"]


class LogBuffer:
    """Collects log lines until ``max_bytes`` of UTF-8, then records only that it overflowed."""

    __slots__ = ("_lines", "_used", "_max_bytes", "truncated")

    def __init__(self, max_bytes: int) -> None:
        self._lines: list[str] = []
        self._used = 0
        self._max_bytes = max_bytes
        self.truncated = False

    @property
    def full(self) -> bool:
        """True once further lines would be dropped (lets callers skip decoding them)."""
        return self.truncated

    def append(self, line: str) -> None:
        """Add one line (a newline separates lines)."""
        if self.truncated:
            return
        encoded = line.encode("utf-8", errors="replace")
        cost = len(encoded) + (1 if self._lines else 0)
        room = self._max_bytes - self._used
        if cost <= room:
            self._lines.append(line)
            self._used += cost
            return
        # Keep the part that fits so the last visible line shows where output stopped.
        keep = room - (1 if self._lines else 0)
        if keep > 0:
            self._lines.append(encoded[:keep].decode("utf-8", errors="ignore"))
        self.truncated = True

    def text(self) -> str:
        """The collected logs, ending with a visible marker when lines were dropped."""
        joined = "\n".join(self._lines)
        return joined + TRUNCATED_MARKER if self.truncated else joined
