"""Keeps messages of long tasks invisible while they run, by extending their visibility."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import psycopg

from broker.pgmq import set_visibility

log = logging.getLogger(__name__)

Key = tuple[str, int]  # (queue, msg_id): pgmq message ids are per queue


class Heartbeat:
    """Every tracked message gets its visibility pushed out when half of it has passed.

    Extensions happen under the same lock as `untrack`, so once `untrack` returns no extension
    of that message is in flight: a retry backoff set right after cannot be overwritten.
    """

    def __init__(
        self,
        connection: Callable[[], AbstractContextManager[psycopg.Connection]],
        stop: threading.Event,
        tick_s: float = 0.25,
        on_beat: Callable[[], None] | None = None,
    ) -> None:
        # The worker's listening connection (WakeupListener.borrow): an extension is one short
        # statement, and most tasks never need one, so it costs the worker no connection of its own.
        self.connection = connection
        self.stop = stop
        self.tick_s = tick_s
        self.on_beat = on_beat  # also run every tick, outside the lock (the worker's read-ahead check)
        self._lock = threading.Lock()
        # key -> (vt_s, when to extend next, on the monotonic clock)
        self._tracked: dict[Key, tuple[int, float]] = {}

    def start(self) -> None:
        """Run the heartbeat in a daemon thread."""
        threading.Thread(target=self._beat, name="heartbeat", daemon=True).start()

    def track(self, queue: str, msg_id: int, vt_s: int) -> None:
        """Start keeping the message hidden."""
        with self._lock:
            self._tracked[(queue, msg_id)] = (vt_s, time.monotonic() + vt_s / 2)

    def untrack(self, queue: str, msg_id: int) -> None:
        """The task finished with the message."""
        with self._lock:
            self._tracked.pop((queue, msg_id), None)

    def busy(self) -> bool:
        """Some message is still tracked (a task in hand)."""
        return bool(self._tracked)

    def extend_now(self, queue: str, msg_id: int, seconds: int) -> None:
        """Extend at once (a task asked for it) and keep extending by that much."""
        with self._lock:
            self._set_vt(queue, msg_id, seconds)
            if (queue, msg_id) in self._tracked:
                self._tracked[(queue, msg_id)] = (seconds, time.monotonic() + seconds / 2)

    def _set_vt(self, queue: str, msg_id: int, seconds: int) -> None:
        # Called with self._lock held.
        with self.connection() as conn:
            set_visibility(conn, queue, msg_id, seconds)

    def _beat(self) -> None:
        # After stop, keep beating while tasks in hand finish.
        while not (self.stop.wait(self.tick_s) and not self._tracked):
            if self.on_beat is not None:
                try:
                    self.on_beat()
                except Exception:  # noqa: BLE001 - the extensions below must go on
                    log.exception("heartbeat callback failed")
            now = time.monotonic()
            with self._lock:
                for (queue, msg_id), (vt_s, due_at) in list(self._tracked.items()):
                    if due_at > now:
                        continue
                    try:
                        self._set_vt(queue, msg_id, vt_s)
                    except psycopg.Error as exc:
                        log.warning("visibility extension failed", extra={"msgId": msg_id, "error": str(exc)})
                        continue
                    self._tracked[(queue, msg_id)] = (vt_s, now + vt_s / 2)
