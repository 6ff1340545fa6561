"""Wakes idle consumers when a queue's insert trigger NOTIFYs, so pickup needs no busy polling."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from infra.listener import Subscription, process_listener


def insert_channel(queue: str) -> str:
    """The channel a queue's insert trigger notifies (broker/pgmq.py NOTIFY_INSERT)."""
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


class WakeupListener:
    """The worker's queues LISTEN on the process's one listening connection (infra/listener.py,
    shared with the executions' cancel LISTEN in the executor), which also serves the worker's few
    background statements (visibility extensions), so a worker holds no connection beyond its
    consumer threads' and this one. It stays open after stop while tasks in hand finish."""

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
        self.keep_open = keep_open  # kept for callers; the process's connection outlives the worker
        self.listener = process_listener(dsn)
        self._subs: list[Subscription] = []

    @contextmanager
    def borrow(self) -> Iterator[psycopg.Connection]:
        """The listening connection, for one short statement from another thread (at once: the
        listener waits on the socket, not on the connection; notifications arriving meanwhile
        are kept)."""
        with self.listener.borrow(own_when_down=False) as conn:
            yield conn

    def start(self) -> None:
        """LISTEN on every queue's channel; a (re)started LISTEN wakes the consumers, since
        notifications sent while it was down are lost."""
        for channel, wakeup in self.by_channel.items():
            self._subs.append(
                self.listener.subscribe(
                    channel, lambda _payload, w=wakeup: w.wake_all(), on_listening=wakeup.wake_all
                )
            )

    def close(self) -> None:
        """Stop listening on the queues' channels (the process's connection stays)."""
        for sub in self._subs:
            sub.close()
        self._subs.clear()
