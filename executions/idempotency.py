"""A repeated request with an Idempotency-Key: the execution the key already started."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from contracts.statuses import ExecutionStatus
from executions.enqueue import IdempotencyConflict
from store import execution_waits
from store import executions as store


def recorded_execution(
    conn: psycopg.Connection, tenant_id: uuid.UUID, key: str, request_hash: str, *, wait_s: float
) -> dict[str, Any] | None:
    """The execution `key` already started, once it ended (or after `wait_s`, still running); None
    when the key is new. IdempotencyConflict when the key was used for a different request.

    The first request may run in another process: this waits on the execution's locks
    (`store.execution_waits`), not by polling.
    """
    row = store.by_idempotency_key(conn, tenant_id, key)
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise IdempotencyConflict("Idempotency-Key already used with a different request; use a new key")
    if row["status"] == ExecutionStatus.RUNNING:
        execution_waits.wait_until_ended(conn, tenant_id, row["id"], timeout_s=wait_s)
        row = store.get(conn, tenant_id, row["id"])
    return row
