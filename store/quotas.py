"""Per-tenant quotas: what a tenant holds against what it may hold (its override or the server's).

Each check reads a handful of rows and runs in the caller's transaction just before the write;
two concurrent writes of one tenant may both pass the last free unit (a quota is a bound on
growth, not an exact count).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from contracts.statuses import ExecutionStatus
from infra.storage_bounds import Quotas

# Past the pending quota, a client is asked to come back after this long (Retry-After).
PENDING_RETRY_AFTER_S = 10


class QuotaExceeded(Exception):
    """A write would take the tenant past one of its quotas; `retry_after_s` when waiting helps."""

    def __init__(self, message: str, *, quota: str, limit: int, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.quota = quota
        self.limit = limit
        self.retry_after_s = retry_after_s


def _limit(conn: psycopg.Connection, tenant_id: uuid.UUID, column: str, default: int) -> int:
    row = conn.execute(
        f"SELECT COALESCE({column}, %s) FROM tenants WHERE id = %s",  # column: one of ours, never input
        (default, tenant_id),
    ).fetchone()
    return int(row[0]) if row else default


def check_functions(conn: psycopg.Connection, tenant_id: uuid.UUID, quotas: Quotas) -> None:
    """Room for one more function, else QuotaExceeded."""
    limit = _limit(conn, tenant_id, "max_functions", quotas.functions)
    held = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM functions WHERE tenant_id = %s LIMIT %s) f", (tenant_id, limit)
    ).fetchone()[0]
    if held >= limit:
        raise QuotaExceeded(
            f"your tenant has {held} functions, its quota (maxFunctions {limit}); delete a function "
            "or ask an operator to raise it (PUT /admin/tenants/{name}, PNIL_QUOTA_FUNCTIONS)",
            quota="maxFunctions",
            limit=limit,
        )


_KV_ROOM = """
SELECT COALESCE(u.keys, 0), COALESCE(u.bytes, 0),
       COALESCE(t.max_kv_keys, %(keys)s), COALESCE(t.max_kv_bytes, %(bytes)s),
       (SELECT octet_length(e.key) + octet_length(e.value::text) FROM kv_entries e
        WHERE e.tenant_id = t.id AND e.key = %(key)s),
       octet_length(%(key)s) + octet_length(%(value)s::jsonb::text)
FROM tenants t LEFT JOIN kv_usage u ON u.tenant_id = t.id WHERE t.id = %(tenant)s
"""


def check_kv(conn: psycopg.Connection, tenant_id: uuid.UUID, quotas: Quotas, key: str, value: Any) -> None:
    """Room to store `value` under `key` (a new key or a replaced value), else QuotaExceeded."""
    row = conn.execute(
        _KV_ROOM,
        {
            "keys": quotas.kv_keys,
            "bytes": quotas.kv_bytes,
            "key": key,
            "value": Jsonb(value),
            "tenant": tenant_id,
        },
    ).fetchone()
    if row is None:
        return
    keys, size, max_keys, max_bytes, old_size, new_size = row
    if old_size is None and keys + 1 > max_keys:
        raise QuotaExceeded(
            f"your key-value store holds {keys} keys, its quota (maxKvKeys {max_keys}); delete keys, "
            "give entries a ttl, or ask an operator to raise it (PNIL_QUOTA_KV_KEYS)",
            quota="maxKvKeys",
            limit=max_keys,
        )
    if size - (old_size or 0) + new_size > max_bytes:
        raise QuotaExceeded(
            f"storing {new_size} bytes would take your key-value store past its quota "
            f"(maxKvBytes {max_bytes}, {size} bytes held); delete entries or ask an operator to raise it "
            "(PNIL_QUOTA_KV_BYTES)",
            quota="maxKvBytes",
            limit=max_bytes,
        )


def check_pending(conn: psycopg.Connection, tenant_id: uuid.UUID, quotas: Quotas) -> None:
    """Room for one more queued (PENDING) execution, else QuotaExceeded with a Retry-After."""
    limit = _limit(conn, tenant_id, "max_pending_executions", quotas.pending_executions)
    held = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM executions WHERE tenant_id = %s AND status = "
        f"'{ExecutionStatus.PENDING}' "
        "LIMIT %s) p",
        (tenant_id, limit),
    ).fetchone()[0]
    if held >= limit:
        raise pending_exceeded(held, limit)


def pending_exceeded(held: int, limit: int) -> QuotaExceeded:
    """The refusal of one more queued execution to a tenant holding `held` of its `limit`."""
    return QuotaExceeded(
        f"your tenant has {held} executions waiting to run, its quota (maxPendingExecutions {limit}); "
        f"retry after {PENDING_RETRY_AFTER_S} s, when some have run, or cancel some",
        quota="maxPendingExecutions",
        limit=limit,
        retry_after_s=PENDING_RETRY_AFTER_S,
    )


def pending_held(
    conn: psycopg.Connection, tenant_ids: list[uuid.UUID], quotas: Quotas
) -> dict[uuid.UUID, tuple[int, int]]:
    """Per tenant, (PENDING executions held, quota) in one statement: `check_pending` for a batch
    (the count stops at the quota, as there)."""
    rows = conn.execute(
        "SELECT t.id, (SELECT count(*) FROM (SELECT 1 FROM executions e WHERE e.tenant_id = t.id "
        f"AND e.status = '{ExecutionStatus.PENDING}' LIMIT l.quota) p), l.quota "
        "FROM tenants t, LATERAL (SELECT COALESCE(t.max_pending_executions, %s) AS quota) l "
        "WHERE t.id = ANY(%s)",
        (quotas.pending_executions, tenant_ids),
    ).fetchall()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}
