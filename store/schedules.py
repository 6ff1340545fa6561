"""SQL for cron schedules: what the schedulers hold, claiming ticks, the live schedulers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

_SCHEDULE = (
    "id, tenant_id, status, state, trigger_type, cron_expression, timezone, misfire_grace_s, schedule_cursor"
)


def active(conn: psycopg.Connection, function_ids: list[uuid.UUID] | None = None) -> list[dict[str, Any]]:
    """ACTIVE SCHEDULED functions (all, or those of `function_ids`), as the schedulers hold them."""
    where = "" if function_ids is None else " AND id = ANY(%(ids)s)"
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_SCHEDULE} FROM functions WHERE trigger_type = 'SCHEDULED' AND state = 'ACTIVE'{where}",
            {"ids": function_ids},
        )
        .fetchall()
    )


def lock_due(conn: psycopg.Connection, function_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Lock the functions whose ticks this scheduler handles now; those another holds are skipped."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_SCHEDULE} FROM functions WHERE id = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED",
            (function_ids,),
        )
        .fetchall()
    )


def advance(
    conn: psycopg.Connection,
    function_id: uuid.UUID,
    *,
    cursor: datetime,
    fired: datetime | None,
    missed: int,
    skipped_not_ready: bool,
) -> None:
    """Move a locked function's tick cursor and record what happened to its ticks."""
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
