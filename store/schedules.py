"""SQL for cron schedules: what the schedulers hold, claiming ticks, the live schedulers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

_SCHEDULE = (
    "id, tenant_id, status, state, trigger_type, cron_expression, timezone, misfire_grace_s, "
    "schedule_cursor, 'function' AS kind"
)
# Named workflows are scheduled beside functions (same columns; a workflow is always "READY": its
# steps' functions are checked when a tick starts a run).
_WORKFLOW_SCHEDULE = (
    "id, tenant_id, 'READY' AS status, state, trigger_type, cron_expression, timezone, misfire_grace_s, "
    "schedule_cursor, 'workflow' AS kind"
)


def active(conn: psycopg.Connection, function_ids: list[uuid.UUID] | None = None) -> list[dict[str, Any]]:
    """ACTIVE SCHEDULED functions and workflows (all, or those of `function_ids`), as the
    schedulers hold them (`kind` says which)."""
    where = "" if function_ids is None else " AND id = ANY(%(ids)s)"
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_SCHEDULE} FROM functions WHERE trigger_type = 'SCHEDULED' AND state = 'ACTIVE'{where} "
            f"UNION ALL SELECT {_WORKFLOW_SCHEDULE} FROM workflows "
            f"WHERE trigger_type = 'SCHEDULED' AND state = 'ACTIVE'{where}",
            {"ids": function_ids},
        )
        .fetchall()
    )


def lock_due(conn: psycopg.Connection, function_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Lock the functions and workflows whose ticks this scheduler handles now; those another
    holds are skipped."""
    cursor = conn.cursor(row_factory=dict_row)
    rows = cursor.execute(
        f"SELECT {_SCHEDULE} FROM functions WHERE id = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED",
        (function_ids,),
    ).fetchall()
    return (
        rows
        + cursor.execute(
            f"SELECT {_WORKFLOW_SCHEDULE} FROM workflows WHERE id = ANY(%s) "
            "ORDER BY id FOR UPDATE SKIP LOCKED",
            (function_ids,),
        ).fetchall()
    )


def advance(
    conn: psycopg.Connection,
    function_id: uuid.UUID,
    *,
    cursor: datetime,
    fired: datetime | None,
    missed: int,
    skipped_not_ready: bool,
    kind: str = "function",
) -> None:
    """Move a locked function's (or workflow's) tick cursor and record what happened to its ticks."""
    if kind == "workflow":
        conn.execute(
            "UPDATE workflows SET schedule_cursor = %s, last_run_at = COALESCE(%s, last_run_at), "
            "missed_ticks = missed_ticks + %s WHERE id = %s AND schedule_cursor < %s",
            (cursor, fired, missed, function_id, cursor),
        )
        return
    conn.execute(
        "UPDATE functions SET schedule_cursor = %s, last_run_at = COALESCE(%s, last_run_at), "
        "missed_ticks = missed_ticks + %s, skipped_not_ready = skipped_not_ready + %s "
        "WHERE id = %s AND schedule_cursor < %s",
        (cursor, fired, missed, int(skipped_not_ready), function_id, cursor),
    )


def heartbeat(conn: psycopg.Connection, name: str, host: str, pid: int, functions: int) -> None:
    """Record this scheduler as alive, with how many functions it holds."""
    conn.execute(
        "INSERT INTO schedulers (name, host, pid, functions) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET functions = EXCLUDED.functions, seen_at = now(), "
        "host = EXCLUDED.host, pid = EXCLUDED.pid",
        (name, host, pid, functions),
    )


def forget(conn: psycopg.Connection, name: str) -> None:
    """A scheduler that stops cleanly removes itself."""
    conn.execute("DELETE FROM schedulers WHERE name = %s", (name,))


def live(conn: psycopg.Connection, within_s: int = 30) -> list[dict[str, Any]]:
    """Schedulers seen within `within_s` seconds."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT name, host, pid, functions, started_at, seen_at FROM schedulers "
            "WHERE seen_at > now() - make_interval(secs => %s) ORDER BY name",
            (within_s,),
        )
        .fetchall()
    )
