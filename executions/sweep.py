"""Housekeeping of executions, run on a schedule by the executor process."""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from executions.housekeeping import prune
from infra import metrics
from infra.database import ForkSafePool
from infra.logs import event
from infra.storage_bounds import DEFAULT_RETENTION, Retention
from store import artifacts, attempts, kv
from store import executions as store
from workflows import handover

log = logging.getLogger(__name__)


def sweep(db: ForkSafePool, artifact_retention_s: int = DEFAULT_RETENTION.artifact_retention_s) -> int:
    """Fail executions whose process died while running them (retrying those whose policy says
    retryLost) and PENDING ones past their expiry; release expired idempotency keys;
    delete unused compiled artifacts, expired key-value entries and old call counts (old events
    and executions go with the retention `prune`, executions/housekeeping.py).
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
        artifacts.forget_unused(conn, artifact_retention_s)
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


def sweep_every(
    db: ForkSafePool, every_s: float, stop: threading.Event, policy: Retention = DEFAULT_RETENTION
) -> threading.Thread:
    """Run `sweep` every `every_s` seconds, and the retention `prune` every `policy.prune_every_s`
    (the first one at once), in a daemon thread until `stop` is set."""

    def loop() -> None:
        next_prune = time.monotonic()
        while not stop.wait(every_s):
            try:
                sweep(db, policy.artifact_retention_s)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + policy.prune_every_s
                    prune(db, policy)
            except psycopg.Error as exc:
                event(log, "execution.sweep_failed", level=logging.WARNING, error=str(exc).strip())

    thread = threading.Thread(target=loop, name="execution-sweep", daemon=True)
    thread.start()
    return thread
