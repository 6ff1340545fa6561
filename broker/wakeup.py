"""Wakes idle consumers when pgmq's insert trigger NOTIFYs, so pickup needs no busy polling."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


def insert_channel(queue: str) -> str:
    """The channel pgmq's insert trigger notifies for a queue."""
    return f"pgmq.q_{queue}.INSERT"


class QueueWakeup:
    """Consumers of one queue wait on it with a fallback timeout; a notification wakes them.

    The fallback timeout also picks up messages whose visibility ran out (no NOTIFY for those).
    """

    def __init__(self, stop: threading.Event, idle_poll_s: float) -> None:
        self.stop = stop
        self.idle_poll_s = idle_poll_s
        self.generation = 0
        self._cond = threading.Condition()

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


# How long the listener waits for notifications at a time: a statement another thread runs on the
# listening connection (`borrow`) waits at most this long for it.
LISTEN_WAIT_S = 0.5


class WakeupListener:
    """One LISTEN connection for every queue of a worker process (one connection, not one per
    queue), which also serves the worker's few background statements (visibility extensions), so
    a worker holds no connection beyond its consumer threads' and this one."""

    def __init__(
        self,
        dsn: str,
        wakeups: dict[str, QueueWakeup],
        stop: threading.Event,
        keep_open: Callable[[], bool] = lambda: False,
    ) -> None:
        self.dsn = dsn
        self.by_channel = {insert_channel(queue): wakeup for queue, wakeup in wakeups.items()}
        self.stop = stop
        self.keep_open = keep_open  # after stop: while tasks in hand may still need extensions
        self._conn: psycopg.Connection | None = None
        self._borrowers = 0  # threads waiting to run a statement on the connection
        self._count_lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[psycopg.Connection]:
        """The listening connection, for one short statement from another thread (psycopg
        serialises it with the listener's wait; notifications arriving meanwhile are kept)."""
        conn = self._conn
        if conn is None or conn.closed:
            raise psycopg.OperationalError("the worker's listening connection is not open (reconnecting)")
        with self._count_lock:
            self._borrowers += 1
        try:
            yield conn
        finally:
            with self._count_lock:
                self._borrowers -= 1

    def start(self) -> None:
        """Run the listener in a daemon thread."""
        threading.Thread(target=self._listen, name="queue-listener", daemon=True).start()

    def _alive(self) -> bool:
        return not self.stop.is_set() or self.keep_open()

    def _listen(self) -> None:
        while self._alive():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    for channel in self.by_channel:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._conn = conn
                    while self._alive():
                        for notify in conn.notifies(timeout=LISTEN_WAIT_S, stop_after=1):
                            wakeup = self.by_channel.get(notify.channel)
                            if wakeup is not None:
                                wakeup.wake_all()
                        while self._borrowers and self._alive():  # let a borrower have its turn
                            time.sleep(0.001)
            except psycopg.OperationalError as exc:
                log.warning("listener connection lost, reconnecting", extra={"error": str(exc)})
                time.sleep(1.0)
            finally:
                self._conn = None
