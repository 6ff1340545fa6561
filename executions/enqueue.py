"""Queueing an execution: its PENDING row and its `executions` message commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from broker import pgmq
from contracts.queues import EXECUTIONS, RUN_EXECUTION_TASK
from infra.storage_bounds import DEFAULT_QUOTAS, Quotas
from store import executions as store
from store import pending_batches
from store.pending_batches import PendingRequest
from store.quotas import QuotaExceeded, check_pending, pending_exceeded, pending_held


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
    quotas: Quotas = DEFAULT_QUOTAS,
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
    (None, False) when the function does not exist for this tenant. QuotaExceeded when the
    tenant already has its quota of PENDING executions.
    """
    with conn.transaction():
        if idempotency_key is not None:
            existing = _named_by_key(conn, tenant_id, function_id, idempotency_key, request_hash)
            if existing is not None:
                return existing, False
        check_pending(conn, tenant_id, quotas)
        try:
            with conn.transaction():  # a savepoint: a concurrent twin's key wins below
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
        except psycopg.errors.UniqueViolation:
            return _named_by_key(conn, tenant_id, function_id, idempotency_key, request_hash), False
        if row is None:
            return None, False
        # createdAt lets the executor reach the row in its day partition (older messages lack it).
        payload = {
            "executionId": str(row["id"]),
            "functionId": str(function_id),
            "tenantId": str(tenant_id),  # the executor takes tenants in turns (tasks/run_execution.py)
            "createdAt": row["created_at"].isoformat(),
        }
        pgmq.send(conn, EXECUTIONS, payload, task=RUN_EXECUTION_TASK, at=row["scheduled_for"])
        return row, True


def _named_by_key(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    key: str | None,
    request_hash: str | None,
) -> dict[str, Any] | None:
    """The execution the key already names (IdempotencyConflict when made by another request)."""
    existing = store.by_idempotency_key(conn, tenant_id, key) if key is not None else None
    if existing is None:
        return None
    same = request_hash is None or existing.pop("request_hash") in (None, request_hash)
    if not same or existing["function_id"] != function_id:
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used with a different request; "
            "use a new key for a new request"
        )
    return existing


@dataclass(frozen=True, slots=True)
class Queued:
    """What became of one request of `enqueue_many`."""

    execution: dict[str, Any] | None  # the new PENDING execution (id, function_id, created_at), if any
    refused: QuotaExceeded | None = None  # the tenant had its quota of PENDING executions

    @property
    def created(self) -> bool:
        return self.execution is not None


def enqueue_many(
    conn: psycopg.Connection, requests: list[PendingRequest], quotas: Quotas = DEFAULT_QUOTAS
) -> list[Queued]:
    """Queue many executions in the caller's transaction, in a few statements whatever their
    number; one `Queued` per request, in order.

    The rules of `enqueue_execution`, for a batch: a request whose idempotency key is already
    taken queues nothing (Queued(None)); a tenant's requests past its quota of PENDING executions
    are refused (Queued(None, refused=QuotaExceeded)), the first ones in order taking the room
    left; each execution follows its function's retry policy; a request for a function the
    tenant does not have queues nothing.
    """
    if not requests:
        return []
    results = [Queued(None)] * len(requests)
    with conn.transaction():
        taken = pending_batches.keys_held(conn, requests)
        held = pending_held(conn, list({r.tenant_id for r in requests}), quotas)
        used: dict[uuid.UUID, int] = {}
        chosen: list[int] = []
        for i, request in enumerate(requests):
            if (request.tenant_id, request.idempotency_key) in taken:
                continue
            pending, limit = held.get(request.tenant_id, (0, quotas.pending_executions))
            n = pending + used.get(request.tenant_id, 0)
            if n >= limit:
                results[i] = Queued(None, refused=pending_exceeded(n, limit))
                continue
            used[request.tenant_id] = used.get(request.tenant_id, 0) + 1
            chosen.append(i)
        try:
            with conn.transaction():  # a savepoint: a twin that took a key meanwhile is met below
                rows = pending_batches.insert_pending_many(conn, [requests[i] for i in chosen])
        except psycopg.errors.UniqueViolation:
            return _one_by_one(conn, requests, chosen, results, quotas)
        by_key = {(row["tenant_id"], row.pop("idempotency_key")): row for row in rows}
        for i in chosen:
            request = requests[i]
            results[i] = Queued(by_key.get((request.tenant_id, request.idempotency_key)))
    return results


def _one_by_one(
    conn: psycopg.Connection,
    requests: list[PendingRequest],
    chosen: list[int],
    results: list[Queued],
    quotas: Quotas,
) -> list[Queued]:
    """The slow path of `enqueue_many`, when a key was taken between its check and its insert."""
    for i in chosen:
        request = requests[i]
        try:
            row, created = enqueue_execution(
                conn,
                tenant_id=request.tenant_id,
                function_id=request.function_id,
                input=request.input,
                trigger_type=request.trigger_type,
                trigger_data=request.trigger_data,
                idempotency_key=request.idempotency_key,
                quotas=quotas,
            )
        except QuotaExceeded as exc:
            results[i] = Queued(None, refused=exc)
            continue
        results[i] = Queued(row if created else None)
    return results
