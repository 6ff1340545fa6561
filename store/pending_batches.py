"""SQL for queueing many executions at once (a cron tick of many functions): a few statements
for the whole batch instead of a handful per execution."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from contracts.queues import EXECUTIONS, RUN_EXECUTION_TASK
from contracts.statuses import ExecutionStatus
from infra import retry_policy as retry_policy_rules


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """One execution to queue: no delay, no expiry, the function's own retry policy."""

    tenant_id: uuid.UUID
    function_id: uuid.UUID
    trigger_type: str
    trigger_data: Any
    idempotency_key: str
    input: Any  # noqa: A003 - the API's own word


def keys_held(conn: psycopg.Connection, requests: list[PendingRequest]) -> set[tuple[uuid.UUID, str]]:
    """The (tenant, idempotency key) pairs of `requests` that already name an execution."""
    rows = conn.execute(
        "SELECT k.tenant_id, k.key FROM idempotency_keys k "
        "JOIN unnest(%s::uuid[], %s::text[]) AS r(tenant_id, key) USING (tenant_id, key)",
        ([r.tenant_id for r in requests], [r.idempotency_key for r in requests]),
    ).fetchall()
    return {(row[0], row[1]) for row in rows}


# The rows and their `executions` messages in one statement (one pgmq.send_batch). The retry
# policy is fixed as in store/executions.py's _ENQUEUE: the defaults, then the function's. A key
# already taken raises UniqueViolation (the `idempotency_keys` trigger) for the whole statement.
_INSERT_MANY = f"""
WITH req AS (
    SELECT * FROM unnest(%(tenants)s::uuid[], %(functions)s::uuid[], %(trigger_types)s::text[],
                         %(trigger_data)s::jsonb[], %(inputs)s::jsonb[], %(keys)s::text[])
                  WITH ORDINALITY AS r(tenant_id, function_id, trigger_type, trigger_data, input, key, ord)
), ins AS (
    INSERT INTO executions (function_id, tenant_id, status, trigger_type, trigger_data, input,
                            idempotency_key, retry_policy, max_attempts)
    SELECT f.id, f.tenant_id, '{ExecutionStatus.PENDING}', r.trigger_type, r.trigger_data, r.input, r.key,
        p.policy,
           (p.policy->>'maxAttempts')::integer
    FROM req r JOIN functions f ON f.id = r.function_id AND f.tenant_id = r.tenant_id,
         LATERAL (SELECT %(defaults)s::jsonb || COALESCE(f.retry_policy, '{{}}'::jsonb) AS policy) p
    ORDER BY r.ord
    RETURNING id, tenant_id, function_id, created_at, idempotency_key
), sent AS (
    SELECT pgmq.send_batch(
        '{EXECUTIONS}',
        array_agg(jsonb_build_object('executionId', id, 'functionId', function_id, 'tenantId', tenant_id,
                                     'createdAt', created_at)),
        array_fill(%(headers)s::jsonb, ARRAY[count(*)::integer]),
        0
    ) AS msg_id
    FROM ins HAVING count(*) > 0
)
SELECT ins.*, (SELECT count(*) FROM sent) AS sent FROM ins
"""


def insert_pending_many(conn: psycopg.Connection, requests: list[PendingRequest]) -> list[dict[str, Any]]:
    """PENDING executions for `requests` (those whose function exists for its tenant) and their
    queue messages, in one statement: per execution queued `id, tenant_id, function_id,
    created_at, idempotency_key`, in no particular order."""
    if not requests:
        return []
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _INSERT_MANY,
            {
                "tenants": [r.tenant_id for r in requests],
                "functions": [r.function_id for r in requests],
                "trigger_types": [r.trigger_type for r in requests],
                "trigger_data": [
                    Jsonb(r.trigger_data) if r.trigger_data is not None else None for r in requests
                ],
                "inputs": [Jsonb(r.input) for r in requests],
                "keys": [r.idempotency_key for r in requests],
                "defaults": Jsonb(retry_policy_rules.DEFAULTS),
                "headers": Jsonb({"task": RUN_EXECUTION_TASK}),
            },
        )
        .fetchall()
    )
