"""Housekeeping of executions, run on a schedule by the executor process."""

from __future__ import annotations

import logging
import threading

import psycopg

from infra.database import ForkSafePool
from infra.logs import event
from store import executions as store

log = logging.getLogger(__name__)


def sweep(db: ForkSafePool) -> int:
    """Fail executions whose process died while running them; release expired idempotency keys.

    Safe from many processes at once. Returns how many executions were failed.
    """
    with db.connection() as conn:
        lost = store.fail_lost(conn)
        store.release_idempotency_keys(conn)
    for execution_id, function_id in lost:
        event(
            log,
            "execution.lost",
            level=logging.WARNING,
            executionId=str(execution_id),
            functionId=str(function_id),
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
