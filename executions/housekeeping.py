"""The prune pass of the executor's housekeeping: history kept to its retention windows.

One process at a time (a session advisory lock): day partitions created ahead; days older than
the longest window of any tenant dropped whole (the newest execution of each function moves to
the archive partition); row-level deletes, in bounded batches, only for what a whole day cannot
express (tenants with a shorter window, the archive partitions, function versions past the newest
N). What it removed is recorded in `prune_runs` (GET /admin/storage shows the last one).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import psycopg

from infra.database import ForkSafePool
from infra.logs import event
from infra.storage_bounds import Retention
from store import partitions, retention

log = logging.getLogger(__name__)

# Any constant shared by every executor: one prune pass at a time across the cluster.
PRUNE_LOCK_KEY = 7_461_029_329
# Row-level deletes of one pass stop after this many batches per tenant and table; the next pass
# goes on (bounded work per pass, so a backlog never holds the lock for long).
MAX_BATCHES = 20


def prune(db: ForkSafePool, policy: Retention) -> dict[str, int] | None:
    """One prune pass; what it removed by kind, or None when another process is pruning."""
    with db.connection() as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (PRUNE_LOCK_KEY,)).fetchone()[0]:
            return None
        try:
            started_at = conn.execute("SELECT now()").fetchone()[0]
            cpu = time.process_time()
            removed = prune_with(conn, policy)
            retention.record_prune(conn, started_at, (time.process_time() - cpu) * 1000, removed)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (PRUNE_LOCK_KEY,))
    event(log, "housekeeping.pruned", **removed)
    return removed


def prune_with(conn: psycopg.Connection, policy: Retention) -> dict[str, int]:
    """The prune pass on the caller's connection (no lock, nothing recorded); what it removed."""
    removed = {"partitionsCreated": partitions.ensure_ahead(conn)}
    tenants = retention.windows(conn, policy.execution_days, policy.event_days)
    longest = {
        "executions": max([policy.execution_days, *(t["execution_days"] for t in tenants)]),
        "events": max([policy.event_days, *(t["event_days"] for t in tenants)]),
    }
    removed |= _drop_days(conn, longest)
    removed["executions"] = removed.pop("executionRowsDropped") + sum(
        _batches(
            retention.delete_executions_past,
            conn,
            t["id"],
            t["execution_days"],
            t["execution_days"] >= longest["executions"],
        )
        for t in tenants
    )
    removed["events"] = removed.pop("eventRowsDropped") + sum(
        _batches(
            retention.delete_events_past, conn, t["id"], t["event_days"], t["event_days"] >= longest["events"]
        )
        for t in tenants
    )
    removed["workflowRuns"] = sum(
        _batches(retention.delete_workflow_runs_past, conn, t["id"], t["execution_days"], False, size=500)
        for t in tenants
    )
    removed["versions"] = retention.delete_versions_past(conn, policy.versions_kept, policy.execution_days)
    return removed


def _drop_days(conn: psycopg.Connection, longest: dict[str, int]) -> dict[str, int]:
    """Drop every day partition the longest window has passed entirely."""
    today = partitions.today_utc(conn)
    counts = {
        "executionRowsDropped": 0,
        "eventRowsDropped": 0,
        "partitionsDropped": 0,
        "executionsKept": 0,
        "executionsLockMs": 0,
    }
    for name, day in partitions.days(conn, "executions"):
        if day + timedelta(days=1) > today - timedelta(days=longest["executions"]):
            break
        dropped, kept, locked_ms = partitions.drop_execution_day(conn, name, day)
        counts["executionsLockMs"] = max(counts["executionsLockMs"], round(locked_ms))
        counts["executionRowsDropped"] += dropped
        counts["executionsKept"] += kept
        counts["partitionsDropped"] += 1
    for name, day in partitions.days(conn, "events"):
        if day + timedelta(days=1) > today - timedelta(days=longest["events"]):
            break
        counts["eventRowsDropped"] += partitions.drop_event_day(conn, name)
        counts["partitionsDropped"] += 1
    return counts


def _batches(
    statement, conn: psycopg.Connection, tenant_id, days: int, archive_only: bool, size: int = retention.BATCH
) -> int:
    """Run a row-level delete in batches until it has nothing left (or MAX_BATCHES)."""
    total = 0
    for _ in range(MAX_BATCHES):
        deleted = statement(conn, tenant_id, days, archive_only=archive_only, batch=size)
        total += deleted
        if deleted < size:
            break
    return total
