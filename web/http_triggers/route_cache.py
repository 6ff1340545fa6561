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

import threading
import time
from collections.abc import Callable
from typing import Any

from infra.listener import Listener, process_listener

CHANNEL = "pnil_http_routes"
ALL = "*"

Bindings = list[dict[str, Any]]


class RouteCache:
    """`bindings(slug, load)`: the tenant's bindings, from memory while the LISTEN holds (on the
    process's one listening connection, infra/listener.py, unless given another `listener`)."""

    def __init__(
        self, dsn: str, *, max_age_s: float, max_entries: int = 10_000, listener: Listener | None = None
    ) -> None:
        self.dsn = dsn
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any, Bindings]] = {}  # slug → (loaded at, tenant id, rows)
        self._generation = 0
        self._lock = threading.Lock()
        self.listening = threading.Event()
        self.listener = listener or process_listener(dsn)
        self._sub = None
        if max_age_s > 0:
            self._sub = self.listener.subscribe(
                CHANNEL, self.invalidate, on_listening=self._started, on_lost=self._lost
            )

    @property
    def backend_pid(self) -> int | None:
        """The LISTEN's server process, while it listens."""
        return self.listener.backend_pid if self.listening.is_set() else None

    def close(self) -> None:
        """Stop listening (every lookup reads the database from now on)."""
        if self._sub is not None:
            self._sub.close()

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

    def _started(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()  # whatever was sent before this LISTEN is lost
            self.listening.set()

    def _lost(self) -> None:
        with self._lock:
            self.listening.clear()
            self._generation += 1
            self._entries.clear()
