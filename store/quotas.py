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


# What the tenant holds and may hold, and the entry's size before and after the write: one row,
# none without a tenant. Also a CTE of the host API's one-statement kv.set (store/kv.py).
KV_ROOM = """
SELECT COALESCE(u.keys, 0) AS keys, COALESCE(u.bytes, 0) AS bytes,
       COALESCE(t.max_kv_keys, %(max_keys)s) AS max_keys,
       COALESCE(t.max_kv_bytes, %(max_bytes)s) AS max_bytes,
       (SELECT octet_length(e.key) + octet_length(e.value::text) FROM kv_entries e
        WHERE e.tenant_id = t.id AND e.key = %(key)s) AS old_size,
       octet_length(%(key)s) + octet_length(%(value)s::jsonb::text) AS new_size
FROM tenants t LEFT JOIN kv_usage u ON u.tenant_id = t.id WHERE t.id = %(tenant)s
"""
# True when a row of KV_ROOM named `room` leaves room for the write: `kv_refusal`'s rule in SQL.
KV_FITS = (
    "((room.old_size IS NOT NULL OR room.keys + 1 <= room.max_keys) "
    "AND room.bytes - COALESCE(room.old_size, 0) + room.new_size <= room.max_bytes)"
)


def kv_room_params(tenant_id: uuid.UUID, quotas: Quotas, key: str, value: Any) -> dict[str, Any]:
    """The parameters of KV_ROOM."""
    return {
        "max_keys": quotas.kv_keys,
        "max_bytes": quotas.kv_bytes,
        "key": key,
        "value": Jsonb(value),
        "tenant": tenant_id,
    }


def check_kv(conn: psycopg.Connection, tenant_id: uuid.UUID, quotas: Quotas, key: str, value: Any) -> None:
    """Room to store `value` under `key` (a new key or a replaced value), else QuotaExceeded."""
    row = conn.execute(KV_ROOM, kv_room_params(tenant_id, quotas, key, value)).fetchone()
    refusal = kv_refusal(*row) if row is not None else None
    if refusal is not None:
        raise refusal


def kv_refusal(
    keys: int, size: int, max_keys: int, max_bytes: int, old_size: int | None, new_size: int
) -> QuotaExceeded | None:
    """Why a KV_ROOM row leaves no room for the write (None when it does)."""
    if old_size is None and keys + 1 > max_keys:
        return QuotaExceeded(
            f"your key-value store holds {keys} keys, its quota (maxKvKeys {max_keys}); delete keys, "
            "give entries a ttl, or ask an operator to raise it (PNIL_QUOTA_KV_KEYS)",
            quota="maxKvKeys",
            limit=max_keys,
        )
    if size - (old_size or 0) + new_size > max_bytes:
        return QuotaExceeded(
            f"storing {new_size} bytes would take your key-value store past its quota "
            f"(maxKvBytes {max_bytes}, {size} bytes held); delete entries or ask an operator to raise it "
            "(PNIL_QUOTA_KV_BYTES)",
            quota="maxKvBytes",
            limit=max_bytes,
        )
    return None


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
