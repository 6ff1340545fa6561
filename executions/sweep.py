"""Housekeeping of executions, run on a schedule by the executor process."""

from __future__ import annotations

import logging
import os
import threading

import psycopg

from infra import metrics
from infra.database import ForkSafePool
from infra.logs import event
from store import artifacts, attempts, events, kv
from store import executions as store
from workflows import handover

log = logging.getLogger(__name__)


# Events (the jsruntime.* ones included: two per execution) are kept this long for GET /events.
EVENT_RETENTION_S = int(os.environ.get("PNIL_EVENT_RETENTION_S") or 7 * 24 * 3600)
# A compiled artifact no register, update or rollback has reused for this long is deleted.
ARTIFACT_RETENTION_S = int(os.environ.get("PNIL_ARTIFACT_RETENTION_S") or 30 * 24 * 3600)


def sweep(db: ForkSafePool, event_retention_s: int = EVENT_RETENTION_S) -> int:
    """Fail executions whose process died while running them (retrying those whose policy says
    retryLost) and PENDING ones past their expiry; release expired idempotency keys;
    delete events, unused compiled artifacts, expired key-value entries and old call counts.
    Safe from many processes at once; returns how many executions were failed.
    """
    with db.connection() as conn:
        with conn.transaction():  # a lost or expired workflow step's hand-over commits with its end
            rows = attempts.fail_lost(conn)
            expired = store.expire_pending(conn)
            for row in (*rows, *expired):
                handover.step_ended(conn, row, retried=bool(row.get("retried")))
        lost = [(row["id"], row["function_id"]) for row in rows]
        store.release_idempotency_keys(conn)
        events.delete_older_than(conn, event_retention_s)
        artifacts.forget_unused(conn, ARTIFACT_RETENTION_S)
        kv.delete_expired(conn)
        kv.delete_old_windows(conn)
    for execution_id, function_id in lost:
        event(
            log,
            "execution.lost",
            level=logging.WARNING,
            executionId=str(execution_id),
            functionId=str(function_id),
        )
    for row in expired:
        metrics.final_failure(row["trigger_type"])
        event(
            log,
            "execution.expired",
            level=logging.WARNING,
            executionId=str(row["id"]),
            functionId=str(row["function_id"]),
        )
    return len(lost)


def sweep_every(db: ForkSafePool, every_s: float, stop: threading.Event) -> threading.Thread:
    """Run `sweep` every `every_s` seconds in a daemon thread until `stop` is set."""

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                sweep(db)
            except psycopg.Error as exc:
                event(log, "execution.sweep_failed", level=logging.WARNING, error=str(exc).strip())

    thread = threading.Thread(target=loop, name="execution-sweep", daemon=True)
    thread.start()
    return thread
