"""Wakes idle consumers when pgmq's insert trigger NOTIFYs, so pickup needs no busy polling."""

from __future__ import annotations

import logging
import threading

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


class QueueWakeup:
    """LISTENs on a queue's insert channel; consumers wait on it with a fallback timeout.

    The fallback timeout also picks up messages whose visibility ran out (no NOTIFY for those).
    """

    def __init__(self, dsn: str, queue: str, stop: threading.Event, idle_poll_s: float) -> None:
        self.dsn = dsn
        self.channel = f"pgmq.q_{queue}.INSERT"
        self.stop = stop
        self.idle_poll_s = idle_poll_s
        self.generation = 0
        self._cond = threading.Condition()

    def start(self) -> None:
        """Run the listener in a daemon thread."""
        threading.Thread(target=self._listen, name=f"listen-{self.channel}", daemon=True).start()

    def wait(self, seen_generation: int, due_in_s: float | None = None) -> None:
        """Block until a notification newer than `seen_generation`, the fallback timeout, or
        `due_in_s` (when a delayed message becomes visible: pgmq sends no NOTIFY for that)."""
        timeout = self.idle_poll_s if due_in_s is None else max(0.002, min(self.idle_poll_s, due_in_s))
        with self._cond:
            if self.generation == seen_generation and not self.stop.is_set():
                self._cond.wait(timeout)

    def wake_all(self) -> None:
        """Wake every waiting consumer."""
        with self._cond:
            self.generation += 1
            self._cond.notify_all()

    def _listen(self) -> None:
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self.wake_all()
            except psycopg.OperationalError as exc:
                log.warning("listener connection lost, reconnecting", extra={"error": str(exc)})
                self.stop.wait(1.0)
