"""Messages a consumer thread read but has not started: taken one at a time, or given back.

A read of several messages hides them all for the visibility timeout, but the thread starts them
one after the other. Those not started yet are given back (visible at once, to be read again):
- when the message in hand has run `RUN_LONG_S`: a read sized for ~100 ms of work is not held
  behind one long run, while other threads could start its messages;
- when the worker stops: a restart does not hide them while the message in hand finishes;
- when the thread has held them for a third of the visibility timeout: another reader never
  takes one while it is still here.
A message is taken under the lock: it is either started by its thread or given back, never both.
"""

from __future__ import annotations

import threading
import time

import psycopg
from psycopg import sql

from broker.message import Message

# How long the message in hand may run before its thread gives back the rest of its read.
RUN_LONG_S = 1.0

# One statement for a read's rest. It changes only a message still hidden by this read (its vt
# unchanged: no other reader took it meanwhile), and takes back the read's count, which was not
# a delivery (retry limits and backoffs count deliveries).
_GIVE_BACK = """
UPDATE {table} q SET vt = clock_timestamp(), read_ct = GREATEST(q.read_ct - 1, 0)
FROM unnest(%(ids)s::bigint[], %(vts)s::timestamptz[]) AS r(msg_id, vt)
WHERE q.msg_id = r.msg_id AND q.vt = r.vt
"""


def give_back(conn: psycopg.Connection, messages: list[Message]) -> int:
    """Make these messages (of one queue) visible again now; how many still were this read's."""
    if not messages:
        return 0
    statement = sql.SQL(_GIVE_BACK).format(table=sql.Identifier("pgmq", f"q_{messages[0].queue}"))
    params = {"ids": [m.msg_id for m in messages], "vts": [m.vt for m in messages]}
    return conn.execute(statement, params).rowcount


class ReadAhead:
    """Each consumer thread's unstarted messages, shared with the thread that stops the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[int, list[Message]] = {}  # thread id -> its read's unstarted messages
        self._started: dict[int, float] = {}  # thread id -> when its message in hand started

    def hold(self, messages: list[Message]) -> None:
        """The calling thread read these and will take them in order."""
        with self._lock:
            self._held[threading.get_ident()] = list(messages)

    def take(self, *, read_at: float, max_held_s: float) -> tuple[Message | None, list[Message]]:
        """The calling thread's next message to start, and what it must give back now: all the
        rest once it has held them `max_held_s` since `read_at` (monotonic); (None, []) when
        nothing is left (or `release_all` took it)."""
        with self._lock:
            held = self._held.get(threading.get_ident())
            if not held:
                return None, []
            now = time.monotonic()
            if now - read_at > max_held_s:
                self._held[threading.get_ident()] = []
                return None, held
            self._started[threading.get_ident()] = now
            return held.pop(0), []

    def drop(self) -> list[Message]:
        """The calling thread stops taking from its read (an error): what it still held."""
        with self._lock:
            self._started.pop(threading.get_ident(), None)
            return self._held.pop(threading.get_ident(), [])

    def release_overdue(self, run_long_s: float = RUN_LONG_S) -> list[Message]:
        """The unstarted messages of every thread whose message in hand has run `run_long_s`."""
        now = time.monotonic()
        with self._lock:
            overdue = [
                ident
                for ident, held in self._held.items()
                if held and now - self._started.get(ident, now) > run_long_s
            ]
            rest = [m for ident in overdue for m in self._held[ident]]
            for ident in overdue:
                self._held[ident] = []
            return rest

    def release_all(self) -> list[Message]:
        """Every thread's unstarted messages, which no thread will start now (the worker stops)."""
        with self._lock:
            rest = [m for held in self._held.values() for m in held]
            self._held = {ident: [] for ident in self._held}
            return rest
