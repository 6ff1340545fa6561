"""One LISTEN connection per process for every channel its parts listen to (cancels, HTTP routes).

Each subscriber gives a channel and three callbacks: `on_notify(payload)` for every notification
on its channel, `on_listening()` each time its LISTEN (re)starts (notifications sent while it was
not listening are lost: a cache empties itself here), and `on_lost()` when the connection is lost
or the subscriber closed. The connection is checked with `SELECT 1` every `check_every_s` when no
notification comes (a dead server that does not close the socket is found by it), and reconnects
`reconnect_after_s` after a loss. `borrow()` lends it to another thread for one short statement
(/health, /ready), so a process needs no other connection to say the database answers.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from infra.logs import event

log = logging.getLogger(__name__)
CHECK_EVERY_S = 5.0
RECONNECT_AFTER_S = 1.0
# How long the thread's wait on the socket lasts at most: how often it checks the connection is
# alive. Nothing waits for it: a borrower, a new subscriber and a close wake it at once.
WAIT_S = 0.5


def _nothing() -> None:
    return None


@dataclass(eq=False)
class Subscription:
    """A channel's handler; `close()` stops it (its `on_lost` is called)."""

    channel: str
    on_notify: Callable[[str], None]
    on_listening: Callable[[], None] = _nothing
    on_lost: Callable[[], None] = _nothing
    listener: Listener | None = field(default=None, repr=False)
    listening: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.unsubscribe(self)


class Listener:
    """The LISTEN thread and its connection; starts with the first subscriber."""

    def __init__(self, dsn: str, *, name: str = "listener") -> None:
        self.dsn = dsn
        self.name = name
        self.check_every_s = CHECK_EVERY_S
        self.reconnect_after_s = RECONNECT_AFTER_S
        self.backend_pid: int | None = None  # the LISTEN's server process, while connected
        self.connected = threading.Event()
        self._subs: list[Subscription] = []
        self._pending: list[Subscription] = []  # subscribed, LISTEN not yet issued on this connection
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        # Written to wake the thread's wait: after a borrower's statement (it may have read a
        # notification), a new subscriber, a close. Closed with the Listener (garbage collection):
        # closing them while another thread may still write could hit a reused descriptor.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(
        self,
        channel: str,
        on_notify: Callable[[str], None],
        *,
        on_listening: Callable[[], None] = _nothing,
        on_lost: Callable[[], None] = _nothing,
    ) -> Subscription:
        """Listen on `channel` from now on (at once when already connected)."""
        sub = Subscription(channel, on_notify, on_listening, on_lost, self)
        with self._lock:
            self._subs.append(sub)
            self._pending.append(sub)
        self.start()
        self._wake()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop calling `sub` (its channel's LISTEN stays until reconnection: notifications are dropped)."""
        with self._lock:
            if sub not in self._subs:
                return
            self._subs.remove(sub)
            if sub in self._pending:
                self._pending.remove(sub)
        self._lost(sub)

    def close(self) -> None:
        """Stop the thread and tell every subscriber it is lost."""
        self._stop.set()
        self._wake()
        with self._lock:
            subs, self._subs, self._pending = self._subs, [], []
        for sub in subs:
            self._lost(sub)

    def start(self) -> None:
        """Connect now, before any subscriber (for `borrow()`)."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    @contextmanager
    def borrow(
        self, *, own_when_down: bool = True, connect_timeout_s: float = 2.0
    ) -> Iterator[psycopg.Connection]:
        """A connection for one short statement from another thread (/health, /ready, the broker's
        visibility extensions): the listening one (at once: the thread waits for notifications on
        the socket, not inside psycopg), or while it is not connected a short-lived one (the
        database is likely down then), or with `own_when_down=False` an OperationalError."""
        self.start()
        conn = self._conn
        if conn is None or conn.closed:
            if not own_when_down:
                raise psycopg.OperationalError(
                    "the process's listening connection is not open (reconnecting)"
                )
            with psycopg.connect(
                self.dsn, autocommit=True, connect_timeout=max(1, round(connect_timeout_s))
            ) as own:
                yield own
            return
        try:
            yield conn
        finally:
            self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"w")
        except OSError:  # full (the thread is woken already) or closed (the thread has ended)
            pass

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    with self._lock:
                        self._pending = list(self._subs)  # a new connection listens afresh
                    self.backend_pid = conn.info.backend_pid
                    self._conn = conn
                    self.connected.set()
                    self._serve(conn)
            except psycopg.Error as exc:
                event(log, "listener.lost", level=logging.WARNING, listener=self.name, error=str(exc).strip())
            finally:
                self._conn = None
                self.connected.clear()
                self.backend_pid = None
                with self._lock:
                    subs = list(self._subs)
                for sub in subs:
                    self._lost(sub)
            self._stop.wait(self.reconnect_after_s)

    def _serve(self, conn: psycopg.Connection) -> None:
        checked = time.monotonic()
        with selectors.DefaultSelector() as ready:
            ready.register(conn.fileno(), selectors.EVENT_READ)
            ready.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                self._listen_pending(conn)
                if self._dispatch(conn):
                    checked = time.monotonic()  # the connection answered
                # Waiting here, not in psycopg's notifies(), leaves the connection free: a borrower's
                # statement runs at once (its answer wakes this wait; the next dispatch takes the
                # connection's lock after it).
                ready.select(WAIT_S)
                self._drain_wakes()
                if time.monotonic() - checked >= self.check_every_s:
                    conn.execute("SELECT 1")
                    checked = time.monotonic()

    def _drain_wakes(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _dispatch(self, conn: psycopg.Connection) -> bool:
        """Hand every notification already received (also those a borrower's statement read) to its
        channel's subscribers, without waiting; whether any came."""
        with self._lock:
            by_channel: dict[str, list[Subscription]] = {}
            for sub in self._subs:
                if sub.listening.is_set():
                    by_channel.setdefault(sub.channel, []).append(sub)
        came = False
        # Taken off the connection first: the generator holds its lock, and a subscriber (or a
        # borrower meanwhile) must not wait for another's handler.
        for notify in list(conn.notifies(timeout=0)):
            came = True
            for sub in by_channel.get(notify.channel, ()):
                if sub.listening.is_set():  # not closed meanwhile
                    self._call(sub.on_notify, notify.payload)
        return came

    def _listen_pending(self, conn: psycopg.Connection) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for sub in pending:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(sub.channel)))
            with self._lock:
                if sub not in self._subs:
                    continue
                sub.listening.set()
            self._call(sub.on_listening)

    def _lost(self, sub: Subscription) -> None:
        sub.listening.clear()
        self._call(sub.on_lost)

    def _call(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - one subscriber's failure must not stop the others
            log.exception("listener subscriber failed", extra={"listener": self.name})


_process: dict[tuple[int, str], Listener] = {}
_process_lock = threading.Lock()


def process_listener(dsn: str) -> Listener:
    """This process's listener for `dsn` (a forked child gets its own)."""
    key = (os.getpid(), dsn)
    with _process_lock:
        if key not in _process:
            _process[key] = Listener(dsn, name="pnil-listener")
        return _process[key]


def close_process_listeners(dbname: str) -> None:
    """Close this process's listeners of database `dbname` (before it is dropped: tests)."""
    with _process_lock:
        gone = [key for key in _process if conninfo_to_dict(key[1]).get("dbname") == dbname]
        listeners = [_process.pop(key) for key in gone]
    for listener in listeners:
        listener.close()
