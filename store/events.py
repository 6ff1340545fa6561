"""SQL for events and their subscribers; every read is scoped to a tenant."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.statuses import runnable_sql
from events.domain import (
    ENDED,
    ENDED_TYPE_SQL,
    EXECUTION_ENDED_TYPES,
    EXECUTION_STARTED_TYPE,
    STARTED,
    execution_events_sql,
    execution_of_event,
)
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


def get(
    conn: psycopg.Connection, tenant_id: uuid.UUID, event_id: uuid.UUID, *, retention_days: int
) -> dict[str, Any] | None:
    """One event of the tenant, with the executions it started; an execution event nobody
    subscribed to is read from its execution (within the tenant's event retention)."""
    cursor = conn.cursor(row_factory=dict_row)
    row = cursor.execute(
        f"SELECT {COLUMNS} FROM events WHERE id = %s AND tenant_id = %s", (event_id, tenant_id)
    ).fetchone()
    execution = execution_of_event(event_id)
    if row is None and execution is not None:
        execution_id, kind = execution
        row = cursor.execute(
            f"{execution_events_sql(kind)} AND id = %(execution)s AND {_AT[kind]} >= {_SINCE}",
            {"tenant": tenant_id, "execution": execution_id, "default_days": retention_days},
        ).fetchone()
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


# Execution events are read from the execution rows from when migration 0032 was applied (before,
# they were all written to `events`) and within the tenant's event retention.
_SINCE = """GREATEST(
    (SELECT applied_at FROM schema_migrations WHERE name = '0032_execution_events_from_executions.sql'),
    now() - make_interval(days => COALESCE(
        (SELECT event_retention_days FROM tenants WHERE id = %(tenant)s), %(default_days)s)))"""
_AT = {STARTED: "started_at", ENDED: "completed_at"}
_STORED = f"""SELECT {COLUMNS} FROM events
WHERE tenant_id = %(tenant)s AND (%(type)s::text IS NULL OR type = %(type)s)
  AND (%(platform)s::boolean IS NULL OR (type LIKE %(prefix)s) = %(platform)s)
ORDER BY created_at DESC, id DESC LIMIT %(limit)s"""


def _read_from_executions(kind: str) -> str:
    """The newest `limit` execution events of `kind` of the type asked for (any when null) that
    no row of `events` holds (one that was dispatched is read from there)."""
    type_matches = (
        f"%(type)s::text = '{EXECUTION_STARTED_TYPE}'"
        if kind == STARTED
        else f"%(type)s::text = {ENDED_TYPE_SQL}"
    )
    return f"""SELECT {COLUMNS} FROM (
    {execution_events_sql(kind)} AND {_AT[kind]} >= {_SINCE}
      AND (%(type)s::text IS NULL OR {type_matches})
    ORDER BY {_AT[kind]} DESC LIMIT %(limit)s
) d WHERE NOT EXISTS (SELECT 1 FROM events s WHERE s.id = d.id AND s.created_at = d.created_at)"""


_RECENT_WITH_EXECUTIONS = f"""({_STORED})
UNION ALL ({_read_from_executions(STARTED)})
UNION ALL ({_read_from_executions(ENDED)})
ORDER BY created_at DESC, id DESC LIMIT %(limit)s"""


_KEEP = f"""
INSERT INTO events (id, tenant_id, type, payload, depth, source_execution_id, created_at)
SELECT id, tenant_id, type, payload, depth, source_execution_id, created_at FROM (
    {execution_events_sql(STARTED)} AND function_id = %(function)s AND started_at >= {_SINCE}
    UNION ALL
    {execution_events_sql(ENDED)} AND function_id = %(function)s AND completed_at >= {_SINCE}
) d
ON CONFLICT DO NOTHING
"""


def keep_execution_events(
    conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, retention_days: int
) -> int:
    """Write the function's execution events that GET /events reads from its executions (within
    the event retention) to `events`, before the executions go; returns how many."""
    return conn.execute(
        _KEEP, {"tenant": tenant_id, "function": function_id, "default_days": retention_days}
    ).rowcount


def recent(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    *,
    event_type: str | None,
    limit: int,
    platform: bool | None = None,
    retention_days: int,
) -> list[dict]:
    """The tenant's newest events, optionally of one type; `platform` True: only pnil's own
    (jsruntime.*), False: only the others, None: both. pnil's execution events come from the
    execution rows (`retention_days`: the server's event retention, unless the tenant has its own)."""
    params = {
        "tenant": tenant_id,
        "type": event_type,
        "platform": platform,
        "prefix": PLATFORM_PREFIX + "%",  # no LIKE wildcard in the prefix itself
        "limit": limit,
        "default_days": retention_days,
    }
    with_executions = platform is not False and (
        event_type is None or event_type == EXECUTION_STARTED_TYPE or event_type in EXECUTION_ENDED_TYPES
    )
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _RECENT_WITH_EXECUTIONS if with_executions else _STORED,
            params,
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
