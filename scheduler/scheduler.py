"""One scheduler: holds the ACTIVE SCHEDULED functions, and at each tick claims and fires them.

Several schedulers may run against one PostgreSQL. A tick is claimed by locking the function row
(FOR UPDATE SKIP LOCKED) and moving its `schedule_cursor` past the tick in the transaction that
queues the execution: whichever scheduler gets the row first fires, the others find the cursor
already moved (and the execution's idempotency key `cron:<function>:<tick>` would refuse a second
one). A row locked by another scheduler is looked at again shortly, so a scheduler that dies
mid-tick (its transaction rolls back) costs no tick.

The ticks due at one moment are claimed in batches of `batch` functions, each batch one
transaction of a few statements (lock, move the cursors, queue the executions and their
messages). Between ticks the scheduler sleeps until the next one is due, woken early by a
schedule change (NOTIFY), and at least every `HEARTBEAT_EVERY_S` for its heartbeat.
"""

from __future__ import annotations

import heapq
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from infra.database import ForkSafePool
from infra.logs import event
from scheduler import firing, ticks
from store import schedules as store

log = logging.getLogger(__name__)
CHANNEL = "pnil_schedule"
RESYNC_EVERY_S = 60.0
HEARTBEAT_EVERY_S = 5.0
# The longest sleep on the real clock: the heartbeat's period (a wall-clock step is noticed by then).
MAX_SLEEP_S = HEARTBEAT_EVERY_S
LISTEN_POLL_S = 2.0
LOCKED_RETRY_S = 0.5
MAX_BACKOFF_S = 10.0
# Ticks claimed per transaction: a batch costs a few statements whatever its size; smaller
# batches let the executor start on the first ticks sooner and two schedulers share a big tick.
BATCH = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Fires the ticks of every ACTIVE SCHEDULED function; `run()` until `stop()`."""

    def __init__(
        self,
        db: ForkSafePool,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep_cap_s: float = MAX_SLEEP_S,
        resync_s: float = RESYNC_EVERY_S,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.sleep_cap_s = sleep_cap_s
        self.resync_s = resync_s
        self.batch = max(1, batch)
        self.entries: dict[uuid.UUID, firing.Entry] = {}
        self._heap: list[tuple[datetime, str, uuid.UUID]] = []
        self._dirty: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.listening = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> None:
        """Load every schedule, listen for changes, fire ticks until stopped.

        A database outage (a restart, a failover) is ridden out here: log, back off, reconnect,
        reload every schedule, carry on; ticks that fell due meanwhile follow the misfire rule.
        """
        threading.Thread(target=self._listen, name="schedule-listener", daemon=True).start()
        self.listening.wait(10)
        next_resync = next_beat = None
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()  # a change arriving from here on cuts the next sleep short
            try:
                if next_resync is None or time.monotonic() >= next_resync:
                    first = next_resync is None
                    self.resync()
                    if first:
                        event(log, "scheduler.started", scheduler=self.name, functions=len(self.entries))
                    next_resync = time.monotonic() + self.resync_s
                self._apply_changes()
                self.fire_due()
                if next_beat is None or time.monotonic() >= next_beat:
                    self._beat()
                    next_beat = time.monotonic() + HEARTBEAT_EVERY_S
                failures = 0
            except psycopg.Error as exc:
                failures += 1
                self._back_off(exc, failures)
                if next_resync is not None:
                    next_resync = 0.0  # reload everything once the database is back
                continue
            self._wake.wait(self._sleep_s(min(next_resync, next_beat) - time.monotonic()))
        try:
            with self.db.connection() as conn:
                store.forget(conn, self.name)
        except psycopg.Error as exc:  # the row goes stale and is ignored: nothing is lost
            event(log, "scheduler.forget_failed", level=logging.WARNING, error=str(exc).strip())
        event(log, "scheduler.stopped", scheduler=self.name)

    def _back_off(self, exc: psycopg.Error, failures: int) -> None:
        delay = min(MAX_BACKOFF_S, 0.2 * 2**failures)
        event(
            log,
            "scheduler.db_unavailable",
            level=logging.WARNING,
            scheduler=self.name,
            error=str(exc).strip() or type(exc).__name__,
            retryInS=delay,
        )
        self._stop.wait(delay)
        self.db.check()  # drop the pool's connections the outage broke

    def stop(self) -> None:
        """Finish the tick in hand and return from run()."""
        self._stop.set()
        self._wake.set()

    # -- holding schedules --------------------------------------------------------------------
    def resync(self) -> None:
        """Reload every ACTIVE SCHEDULED function (a safety net under the change notifications);
        an entry whose schedule did not change is left as it is."""
        with self.db.connection() as conn:
            rows = store.active(conn)
        with self._lock:
            seen = {row["id"] for row in rows}
            for gone in set(self.entries) - seen:
                del self.entries[gone]
            for row in rows:
                self._hold(row)

    def _apply_changes(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        with self.db.connection() as conn:
            rows = {row["id"]: row for row in store.active(conn, list(dirty))}
        now = self.clock()
        with self._lock:
            for fid in dirty:
                if fid in rows:
                    self._hold(rows[fid], changed_at=now)
                else:
                    self.entries.pop(fid, None)
        event(log, "scheduler.changed", scheduler=self.name, functions=len(dirty))

    def _hold(self, row: dict, *, changed_at: datetime | None = None) -> None:
        """Add or refresh one function (caller holds the lock); `changed_at` when its schedule
        changed then (a NOTIFY)."""
        fid = row["id"]
        old = self.entries.get(fid)
        cursor = row["schedule_cursor"]
        same = old is not None and old.cron == row["cron_expression"] and old.timezone == row["timezone"]
        if changed_at is not None:
            # A changed schedule starts from this scheduler's now: nothing before it is due.
            cursor = max(cursor, changed_at)
        elif same:
            if old.grace_s == row["misfire_grace_s"] and old.cursor >= cursor:
                return  # a resync of a schedule held as it is
            cursor = max(cursor, old.cursor)
        try:
            ticks.trigger(row["cron_expression"], row["timezone"])
        except ticks.InvalidSchedule as exc:
            event(log, "scheduler.invalid_schedule", level=logging.ERROR, functionId=str(fid), error=str(exc))
            self.entries.pop(fid, None)
            return
        entry = firing.Entry(
            fid, row["cron_expression"], row["timezone"], row["misfire_grace_s"], cursor, kind=row["kind"]
        )
        entry.next_at = ticks.next_tick(entry.cron, entry.timezone, cursor)
        self.entries[fid] = entry
        if entry.next_at is not None and (old is None or old.next_at != entry.next_at):
            heapq.heappush(self._heap, (entry.next_at, str(fid), fid))

    def _sleep_s(self, bound_s: float) -> float:
        """How long to sleep: until the next tick due, at most `bound_s` and the cap."""
        cap = max(0.0, min(self.sleep_cap_s, bound_s))
        with self._lock:
            while self._heap and self._stale(self._heap[0]):
                heapq.heappop(self._heap)
            if not self._heap:
                return cap
            wait = (self._heap[0][0] - self.clock()).total_seconds()
        return max(0.0, min(cap, wait))

    def _stale(self, item: tuple[datetime, str, uuid.UUID]) -> bool:
        entry = self.entries.get(item[2])
        return entry is None or entry.next_at != item[0]

    # -- firing ---------------------------------------------------------------------------------
    def fire_due(self) -> int:
        """Handle every function with a tick due now; returns how many executions were queued."""
        now = self.clock()
        due: dict[uuid.UUID, None] = {}  # in order, once each
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                item = heapq.heappop(self._heap)
                if not self._stale(item):
                    due[item[2]] = None
        ids = list(due)
        fired = 0
        for start in range(0, len(ids), self.batch):
            try:
                fired += self._fire_batch(ids[start : start + self.batch], now)
            except psycopg.Error:
                # The batch rolled back: its ticks and the ones after it are looked at again.
                for fid in ids[start:]:
                    self._retry(fid, now)
                raise
        return fired

    def _fire_batch(self, due: list[uuid.UUID], now: datetime) -> int:
        """Claim and handle the ticks of `due` in one transaction of a few statements: lock the
        rows, move their cursors, queue the executions. This scheduler's view of them changes only
        once that committed."""
        with self._lock:
            held = {fid: self.entries[fid] for fid in due if fid in self.entries}
        functions = [fid for fid, entry in held.items() if entry.kind == "function"]
        workflows = [fid for fid, entry in held.items() if entry.kind == "workflow"]
        with self.db.connection() as conn, conn.transaction():
            rows = store.lock_due(conn, functions, workflows)
            plans: list[firing.Plan] = []
            for fid, entry in held.items():
                row = rows.get(fid)
                if row is None:  # locked by another scheduler (or deleted): look again shortly
                    self._retry(fid, now)
                    continue
                plans.append(firing.plan(row, entry, now))
            for kind in ("function", "workflow"):
                store.advance(
                    conn, [p.advance for p in plans if p.advance and p.entry.kind == kind], kind=kind
                )
            fired = firing.queue(conn, [p for p in plans if p.fire and p.entry.kind == "function"])
            for plan in plans:
                if plan.fire and plan.entry.kind == "workflow":
                    plan.started = firing.start_run(conn, plan.row, plan.entry, firing.iso(plan.fire))
        with self._lock:
            for plan in plans:
                entry = plan.entry
                entry.cursor = max(entry.cursor, plan.cursor)
                entry.next_at = ticks.next_tick(entry.cron, entry.timezone, entry.cursor)
                if entry.next_at is not None and self.entries.get(entry.function_id) is entry:
                    heapq.heappush(self._heap, (entry.next_at, str(entry.function_id), entry.function_id))
        done = self.clock()
        for plan in plans:
            firing.log_handled(plan, done)
        return fired + sum(1 for plan in plans if plan.started)

    def _retry(self, fid: uuid.UUID, now: datetime) -> None:
        with self._lock:
            entry = self.entries.get(fid)
            if entry is not None:
                entry.next_at = now + timedelta(seconds=LOCKED_RETRY_S)
                heapq.heappush(self._heap, (entry.next_at, str(fid), fid))

    # -- signals ----------------------------------------------------------------------------------
    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.db.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=LISTEN_POLL_S):
                            with self._lock:
                                self._dirty.add(uuid.UUID(notify.payload))
                            self._wake.set()
            except psycopg.Error as exc:
                event(log, "scheduler.listener_lost", level=logging.WARNING, error=str(exc).strip())
                self._stop.wait(1.0)

    def _beat(self) -> None:
        try:
            with self.db.connection() as conn:
                store.heartbeat(conn, self.name, socket.gethostname(), os.getpid(), len(self.entries))
        except psycopg.Error as exc:
            event(log, "scheduler.heartbeat_failed", level=logging.WARNING, error=str(exc).strip())
