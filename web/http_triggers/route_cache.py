"""This process's copy of the tenants' HTTP trigger routes, dropped when PostgreSQL says they changed.

Migration 0025 NOTIFYs `pnil_http_routes` with the tenant id whose HTTP functions changed (any
column the routing reads: path, methods, auth, state, status, ...), or `*` when a tenant slug
changed; NOTIFY reaches every listening process of every host at commit. A thread per process
LISTENs and drops what the notification names.

Never stale for long, whatever happens to the LISTEN: while it is not connected (before the first
LISTEN, after its connection is lost, until the next LISTEN succeeds) every lookup reads the
database, and the cache is emptied each time the LISTEN (re)starts, since notifications sent
meanwhile are lost. A load that raced with a notification is not kept (a generation counter).
Entries older than `max_age_s` are read again anyway, and at most `max_entries` tenants are held.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from infra.logs import event

log = logging.getLogger(__name__)
CHANNEL = "pnil_http_routes"
ALL = "*"
# How often the listening connection is checked when no notification comes (a dead server or
# network that does not close the socket is found by this round trip).
CHECK_EVERY_S = 5.0
RECONNECT_AFTER_S = 1.0

Bindings = list[dict[str, Any]]


class RouteCache:
    """`bindings(slug, load)`: the tenant's bindings, from memory while the LISTEN holds."""

    def __init__(self, dsn: str, *, max_age_s: float, max_entries: int = 10_000) -> None:
        self.dsn = dsn
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any, Bindings]] = {}  # slug → (loaded at, tenant id, rows)
        self._generation = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.listening = threading.Event()
        self.backend_pid: int | None = None  # the LISTEN's server process, while it listens
        self.reconnect_after_s = RECONNECT_AFTER_S
        self._thread: threading.Thread | None = None
        if max_age_s > 0:
            self._thread = threading.Thread(target=self._listen, name="http-routes-listener", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop listening (the thread ends within a second)."""
        self._stop.set()

    def bindings(self, slug: str, load: Callable[[str], Bindings], *, fresh: bool = False) -> Bindings:
        """The bindings of tenant `slug`: cached, or `load(slug)` (and cached when still current).
        `fresh` reads them again whatever is cached."""
        if not self.listening.is_set():
            return load(slug)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(slug)
            generation = self._generation
        if not fresh and entry is not None and now - entry[0] < self.max_age_s:
            return entry[2]
        rows = load(slug)
        tenant_id = rows[0]["tenant_id"] if rows else None
        with self._lock:
            # Kept only when no notification came while it loaded, and the LISTEN still holds.
            if generation == self._generation and self.listening.is_set():
                self._entries.pop(slug, None)
                if len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[slug] = (now, tenant_id, rows)
        return rows

    def invalidate(self, payload: str) -> None:
        """Drop what a notification names: one tenant's routes, or all (`*`, or a tenant unknown here)."""
        with self._lock:
            self._generation += 1
            if payload == ALL:
                self._entries.clear()
                return
            # A tenant without HTTP bindings is cached with no tenant id (its slug unresolved):
            # its first binding must be seen, so those entries go too.
            self._entries = {
                slug: entry
                for slug, entry in self._entries.items()
                if entry[1] is not None and str(entry[1]) != payload
            }

    def _lost(self) -> None:
        with self._lock:
            self.listening.clear()
            self._generation += 1
            self._entries.clear()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.backend_pid = conn.info.backend_pid
                    self.invalidate(ALL)  # whatever was sent before this LISTEN is lost
                    self.listening.set()
                    self._serve(conn)
            except psycopg.Error as exc:
                event(log, "http_routes.listener_lost", level=logging.WARNING, error=str(exc).strip())
            finally:
                self._lost()
            self._stop.wait(self.reconnect_after_s)

    def _serve(self, conn: psycopg.Connection) -> None:
        checked = time.monotonic()
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=0.5):
                self.invalidate(notify.payload)
            if time.monotonic() - checked >= CHECK_EVERY_S:
                conn.execute("SELECT 1")
                checked = time.monotonic()
