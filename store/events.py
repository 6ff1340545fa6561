"""SQL for events and their subscribers; every read is scoped to a tenant."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.statuses import runnable_sql
from events.names import PLATFORM_PREFIX

COLUMNS = (
    "id, tenant_id, type, payload, depth, source_execution_id, created_at, dispatched_at, "
    "executions_started, suppressed"
)


def get_any(conn: psycopg.Connection, event_id: uuid.UUID) -> dict[str, Any] | None:
    """One event whatever its tenant (the dispatcher's read)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {COLUMNS} FROM events WHERE id = %s", (event_id,))
        .fetchone()
    )


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any] | None:
    """One event of the tenant, with the executions it started."""
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {COLUMNS} FROM events WHERE id = %s AND tenant_id = %s", (event_id, tenant_id))
        .fetchone()
    )
    if row is not None:
        row["executions"] = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM executions WHERE trigger_type = 'EVENT' AND trigger_data->>'eventId' = %s "
                "AND tenant_id = %s ORDER BY created_at",
                (str(event_id), tenant_id),
            )
        ]
    return row


def recent(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    *,
    event_type: str | None,
    limit: int,
    platform: bool | None = None,
) -> list[dict]:
    """The tenant's newest events, optionally of one type; `platform` True: only pnil's own
    (jsruntime.*), False: only the others, None: both."""
    prefix = PLATFORM_PREFIX + "%"  # no LIKE wildcard in the prefix itself
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM events WHERE tenant_id = %s AND (%s::text IS NULL OR type = %s) "
            "AND (%s::boolean IS NULL OR (type LIKE %s) = %s) "
            "ORDER BY created_at DESC, id DESC LIMIT %s",
            (tenant_id, event_type, event_type, platform, prefix, platform, limit),
            prepare=False,  # optional filters: planned per call (see store/__init__.py)
        )
        .fetchall()
    )


def subscribers(conn: psycopg.Connection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """ACTIVE, READY EVENT functions of the tenant with their patterns."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT id, event_types FROM functions WHERE tenant_id = %s AND trigger_type = 'EVENT' "
            f"AND {runnable_sql()} ORDER BY id",
            (tenant_id,),
        )
        .fetchall()
    )


def mark_dispatched(conn: psycopg.Connection, event_id: uuid.UUID, *, started: int, suppressed: bool) -> None:
    """Record how many executions the event started (or that the loop guard held it back)."""
    conn.execute(
        "UPDATE events SET dispatched_at = COALESCE(dispatched_at, now()), suppressed = %s, "
        "executions_started = (SELECT count(*) FROM executions WHERE trigger_type = 'EVENT' "
        "AND trigger_data->>'eventId' = %s AND tenant_id = events.tenant_id) WHERE id = %s",
        (suppressed, str(event_id), event_id),
    )
