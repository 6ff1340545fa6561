"""Queueing an execution: its PENDING row and its `executions` message commit together."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg

from store import executions as store
from tasks.app import broker
from tasks.contracts import EXECUTIONS, RUN_EXECUTION_TASK


class IdempotencyConflict(ValueError):
    """The idempotency key already names an execution created from a different request."""


def enqueue_execution(
    conn: psycopg.Connection,
    *,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    input: Any,  # noqa: A002 - the API's own word
    trigger_type: str,
    trigger_data: Any = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    retry_policy: dict[str, Any] | None = None,
    delay_ms: int | None = None,
    run_at: datetime | None = None,
    expires_at: datetime | None = None,
    max_queue_ms: int | None = None,
    replay_of: uuid.UUID | None = None,
    version: int | None = None,
) -> tuple[dict[str, Any] | None, bool]:
    """Queue one execution in the caller's transaction; returns (execution row, created).

    It follows the function's retry policy (`retry_policy` overrides fields of it), starts no
    sooner than `delay_ms` from now or `run_at` (its message stays invisible until then: nothing
    polls it) and never after `expires_at` (or `max_queue_ms` past its due time). `version` pins
    the version it runs (a replay).

    With an idempotency key already used by this tenant, nothing is queued and the existing
    execution comes back with created=False (IdempotencyConflict when `request_hash` differs).
    (None, False) when the function does not exist for this tenant.
    """
    with conn.transaction():
        row = store.insert_pending(
            conn,
            tenant_id,
            function_id,
            input_value=input,
            trigger_type=trigger_type,
            trigger_data=trigger_data,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            retry_policy=retry_policy,
            delay_ms=delay_ms,
            run_at=run_at,
            expires_at=expires_at,
            max_queue_ms=max_queue_ms,
            replay_of=replay_of,
            version=version,
        )
        if row is None:
            if idempotency_key is None:
                return None, False
            existing = store.by_idempotency_key(conn, tenant_id, idempotency_key)
            if existing is None:
                return None, False
            same = request_hash is None or existing.pop("request_hash") in (None, request_hash)
            if not same or existing["function_id"] != function_id:
                raise IdempotencyConflict(
                    f"Idempotency-Key {idempotency_key!r} was already used with a different request; "
                    "use a new key for a new request"
                )
            return existing, False
        payload = {"executionId": str(row["id"]), "functionId": str(function_id)}
        broker.send(EXECUTIONS, payload, task=RUN_EXECUTION_TASK, at=row["scheduled_for"], conn=conn)
        return row, True
