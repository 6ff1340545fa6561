"""One scheduler: holds the ACTIVE SCHEDULED functions, and at each tick claims and fires it.

Several schedulers may run against one PostgreSQL. A tick is claimed by locking the function row
(FOR UPDATE SKIP LOCKED) and moving its `schedule_cursor` past the tick in the transaction that
queues the execution: whichever scheduler gets the row first fires, the others find the cursor
already moved. A row locked by another scheduler is looked at again shortly, so a scheduler that
dies mid-tick (its transaction rolls back) costs no tick.
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from executions.enqueue import enqueue_execution
from infra.database import ForkSafePool
from infra.logs import event
from scheduler import ticks
from store import schedules as store
from store import workflow_definitions as definitions_store
from store.quotas import QuotaExceeded
from workflows import definitions
from workflows.canvas import CanvasError

log = logging.getLogger(__name__)
CHANNEL = "pnil_schedule"
RESYNC_EVERY_S = 60.0
HEARTBEAT_EVERY_S = 5.0
LOCKED_RETRY_S = 0.5
MAX_BACKOFF_S = 10.0
# Ticks claimed per transaction: small enough that the executor starts on the first ones early.
BATCH = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Entry:
    """A function as this scheduler holds it."""

    function_id: uuid.UUID
    cron: str
    timezone: str
    grace_s: int
    cursor: datetime
    next_at: datetime | None = None


class Scheduler:
    """Fires the ticks of every ACTIVE SCHEDULED function; `run()` until `stop()`."""

    def __init__(
        self,
        db: ForkSafePool,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep_cap_s: float = 1.0,
    ) -> None:
        self.db = db
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.sleep_cap_s = sleep_cap_s
        self.entries: dict[uuid.UUID, Entry] = {}
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
        last_resync = last_beat = None
        failures = 0
        while not self._stop.is_set():
            try:
                if last_resync is None or time.monotonic() - last_resync > RESYNC_EVERY_S:
                    self.resync()
                    if last_resync is None:
                        event(log, "scheduler.started", scheduler=self.name, functions=len(self.entries))
                    last_resync = time.monotonic()
                self._apply_changes()
                self.fire_due()
                if last_beat is None or time.monotonic() - last_beat > HEARTBEAT_EVERY_S:
                    self._beat()
                    last_beat = time.monotonic()
                failures = 0
            except psycopg.Error as exc:
                failures += 1
                self._back_off(exc, failures)
                if last_resync is not None:
                    last_resync = -RESYNC_EVERY_S  # reload everything once the database is back
                continue
            self._wake.wait(self._sleep_s())
            self._wake.clear()
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
        """Reload every ACTIVE SCHEDULED function (a safety net under the change notifications)."""
        with self.db.connection() as conn:
            rows = store.active(conn)
        with self._lock:
            seen = {row["id"] for row in rows}
            for gone in set(self.entries) - seen:
                del self.entries[gone]
            for row in rows:
                self._hold(row, changed=False)

    def _apply_changes(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        with self.db.connection() as conn:
            rows = {row["id"]: row for row in store.active(conn, list(dirty))}
        with self._lock:
            for fid in dirty:
                if fid in rows:
                    self._hold(rows[fid], changed=True)
                else:
                    self.entries.pop(fid, None)
        event(log, "scheduler.changed", scheduler=self.name, functions=len(dirty))

    def _hold(self, row: dict, *, changed: bool) -> None:
        """Add or refresh one function (caller holds the lock)."""
        fid = row["id"]
        old = self.entries.get(fid)
        cursor = row["schedule_cursor"]
        if changed:
            # A changed schedule starts from this scheduler's now: nothing before it is due.
            cursor = max(cursor, self.clock())
        elif old is not None and old.cron == row["cron_expression"] and old.timezone == row["timezone"]:
            cursor = max(cursor, old.cursor)
        try:
            ticks.trigger(row["cron_expression"], row["timezone"])
        except ticks.InvalidSchedule as exc:
            event(log, "scheduler.invalid_schedule", level=logging.ERROR, functionId=str(fid), error=str(exc))
            self.entries.pop(fid, None)
            return
        entry = Entry(fid, row["cron_expression"], row["timezone"], row["misfire_grace_s"], cursor)
        entry.next_at = ticks.next_tick(entry.cron, entry.timezone, cursor)
        self.entries[fid] = entry
        if entry.next_at is not None:
            heapq.heappush(self._heap, (entry.next_at, str(fid), fid))

    def _sleep_s(self) -> float:
        with self._lock:
            while self._heap and self._stale(self._heap[0]):
                heapq.heappop(self._heap)
            if not self._heap:
                return self.sleep_cap_s
            wait = (self._heap[0][0] - self.clock()).total_seconds()
        return max(0.0, min(self.sleep_cap_s, wait))

    def _stale(self, item: tuple[datetime, str, uuid.UUID]) -> bool:
        entry = self.entries.get(item[2])
        return entry is None or entry.next_at != item[0]

    # -- firing ---------------------------------------------------------------------------------
    def fire_due(self) -> int:
        """Handle every function with a tick due now; returns how many executions were queued."""
        now = self.clock()
        due: list[uuid.UUID] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                item = heapq.heappop(self._heap)
                if not self._stale(item):
                    due.append(item[2])
        fired = 0
        for start in range(0, len(due), BATCH):
            try:
                fired += self._fire_batch(due[start : start + BATCH], now)
            except psycopg.Error:
                # The batch rolled back: its ticks and the ones after it are looked at again.
                for fid in due[start:]:
                    self._retry(fid, now)
                raise
        return fired

    def _fire_batch(self, due: list[uuid.UUID], now: datetime) -> int:
        fired = 0
        with self.db.connection() as conn, conn.transaction():
            rows = {row["id"]: row for row in store.lock_due(conn, due)}
            for fid in due:
                row = rows.get(fid)
                if row is None:  # locked by another scheduler (or deleted): look again shortly
                    self._retry(fid, now)
                    continue
                fired += self._handle(conn, row, now)
        return fired

    def _retry(self, fid: uuid.UUID, now: datetime) -> None:
        with self._lock:
            entry = self.entries.get(fid)
            if entry is not None:
                entry.next_at = now + timedelta(seconds=LOCKED_RETRY_S)
                heapq.heappush(self._heap, (entry.next_at, str(fid), fid))

    def _handle(self, conn: psycopg.Connection, row: dict, now: datetime) -> int:
        fid = row["id"]
        with self._lock:
            entry = self.entries.get(fid)
        if entry is None:
            return 0
        cursor = max(entry.cursor, row["schedule_cursor"])
        runs = (
            row["state"] == "ACTIVE"
            and row["trigger_type"] == "SCHEDULED"
            and row["cron_expression"] == entry.cron
            and row["timezone"] == entry.timezone
        )
        decision = ticks.decide(entry.cron, entry.timezone, cursor, now, entry.grace_s) if runs else None
        fired = 0
        if decision is not None and decision.cursor is not None:
            ready = row["status"] == "READY"
            fire = decision.fire if ready else None
            store.advance(
                conn,
                fid,
                cursor=decision.cursor,
                fired=fire,
                missed=decision.missed,
                skipped_not_ready=decision.fire is not None and not ready,
                kind=row["kind"],
            )
            if fire is not None:
                fired = self._queue(conn, row, entry, fire, now)
            elif decision.fire is not None:
                event(
                    log,
                    "scheduler.tick_skipped",
                    level=logging.WARNING,
                    functionId=str(fid),
                    scheduledFor=decision.fire.isoformat(),
                    reason=f"function is {row['status']}, not READY",
                )
            if decision.missed:
                event(
                    log,
                    "scheduler.ticks_missed",
                    level=logging.WARNING,
                    functionId=str(fid),
                    missed=decision.missed,
                    graceS=entry.grace_s,
                )
            cursor = decision.cursor
        with self._lock:
            entry.cursor = max(entry.cursor, cursor)
            entry.next_at = ticks.next_tick(entry.cron, entry.timezone, entry.cursor)
            if entry.next_at is not None:
                heapq.heappush(self._heap, (entry.next_at, str(fid), fid))
        return fired

    def _queue(self, conn: psycopg.Connection, row: dict, entry: Entry, tick: datetime, now: datetime) -> int:
        scheduled_for = tick.astimezone(UTC).isoformat()
        if row["kind"] == "workflow":
            return self._start_run(conn, row, entry, scheduled_for)
        try:
            execution, created = enqueue_execution(
                conn,
                tenant_id=row["tenant_id"],
                function_id=row["id"],
                input={},
                trigger_type="CRON",
                trigger_data={"cron": entry.cron, "timezone": entry.timezone, "scheduledFor": scheduled_for},
                idempotency_key=f"cron:{row['id']}:{scheduled_for}",
            )
        except QuotaExceeded as exc:  # the tick is handled (not fired): the backlog must drain first
            event(
                log,
                "scheduler.quota_refused",
                level=logging.WARNING,
                functionId=str(row["id"]),
                error=str(exc),
            )
            return 0
        if created:
            event(
                log,
                "scheduler.fired",
                functionId=str(row["id"]),
                executionId=str(execution["id"]),
                scheduledFor=scheduled_for,
                lateMs=round((now - tick).total_seconds() * 1000, 1),
            )
        return int(created)

    def _start_run(self, conn: psycopg.Connection, row: dict, entry: Entry, scheduled_for: str) -> int:
        """A tick of a SCHEDULED workflow: a run of its current version (logged and skipped when a
        step's function cannot run now)."""
        workflow = definitions_store.by_id(conn, row["id"])
        try:
            with conn.transaction():
                run_id = definitions.start(
                    conn,
                    workflow,
                    {},
                    trigger_type="CRON",
                    trigger_data={
                        "cron": entry.cron,
                        "timezone": entry.timezone,
                        "scheduledFor": scheduled_for,
                    },
                    dedup_key=f"cron:{row['id']}:{scheduled_for}",
                )
        except CanvasError as exc:
            event(
                log,
                "scheduler.tick_skipped",
                level=logging.WARNING,
                workflow=workflow["name"],
                reason=str(exc),
            )
            return 0
        if run_id is not None:
            event(
                log,
                "scheduler.fired",
                workflow=workflow["name"],
                runId=str(run_id),
                scheduledFor=scheduled_for,
            )
        return int(run_id is not None)

    # -- signals ----------------------------------------------------------------------------------
    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.db.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=0.5):
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
