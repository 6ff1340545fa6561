"""Listings of executions per function and per tenant (tenant-scoped), and the count of delayed ones
waiting (every tenant, for /metrics)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.statuses import ExecutionStatus
from store.executions import COLUMNS


def list_for_tenant(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    final: bool | None = None,
    first_attempt_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """The tenant's executions across functions, newest first. `final=True`: queued executions that
    failed (FAILED or TIMEOUT) and will not be retried any more, the user's dead letters;
    `final=False`: the others. `first_attempt_id`: every attempt of one chain."""
    dead = (
        f"status IN ('{ExecutionStatus.FAILED}', '{ExecutionStatus.TIMEOUT}') AND NOT retried AND "
        "retry_policy IS NOT NULL"
    )
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM executions WHERE tenant_id = %(tenant)s "
            "AND (%(status)s::text IS NULL OR status = %(status)s) "
            f"AND (%(final)s::boolean IS NULL OR ({dead}) = %(final)s) "
            "AND (%(first)s::uuid IS NULL OR id = %(first)s OR first_attempt_id = %(first)s) "
            "ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
            {
                "tenant": tenant_id,
                "status": status,
                "final": final,
                "first": first_attempt_id,
                "limit": limit,
                "offset": offset,
            },
            prepare=False,  # optional filters: planned per call (see store/__init__.py)
        )
        .fetchall()
    )


def list_for_function(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    trigger_type: str | None = None,
) -> list[dict[str, Any]]:
    """A function's executions, newest first, optionally of one status and trigger type."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM executions WHERE function_id = %s AND tenant_id = %s "
            "AND (%s::text IS NULL OR status = %s) AND (%s::text IS NULL OR trigger_type = %s) "
            "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            (function_id, tenant_id, status, status, trigger_type, trigger_type, limit, offset),
            prepare=False,  # optional filters: planned per call (see store/__init__.py)
        )
        .fetchall()
    )


def count_delayed(conn: psycopg.Connection) -> int:
    """PENDING executions (every tenant) whose scheduledFor is still ahead (an index range)."""
    return conn.execute(
        f"SELECT count(*) FROM executions WHERE status = '{ExecutionStatus.PENDING}' AND scheduled_for > "
        "clock_timestamp()"
    ).fetchone()[0]
