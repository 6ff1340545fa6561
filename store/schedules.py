"""SQL for cron schedules: what the schedulers hold, claiming ticks, the live schedulers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.statuses import CompileStatus, LifecycleState

_SCHEDULE = (
    "id, tenant_id, status, state, trigger_type, cron_expression, timezone, misfire_grace_s, "
    "schedule_cursor, 'function' AS kind"
)
# Named workflows are scheduled beside functions (same columns; a workflow is always "READY": its
# steps' functions are checked when a tick starts a run).
_WORKFLOW_SCHEDULE = (
    f"id, tenant_id, '{CompileStatus.READY}' AS status, state, trigger_type, cron_expression, timezone, "
    "misfire_grace_s, "
    "schedule_cursor, 'workflow' AS kind"
)


def active(conn: psycopg.Connection, function_ids: list[uuid.UUID] | None = None) -> list[dict[str, Any]]:
    """ACTIVE SCHEDULED functions and workflows (all, or those of `function_ids`), as the
    schedulers hold them (`kind` says which)."""
    where = "" if function_ids is None else " AND id = ANY(%(ids)s)"
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_SCHEDULE} FROM functions WHERE trigger_type = 'SCHEDULED' AND state = "
            f"'{LifecycleState.ACTIVE}'{where} "
            f"UNION ALL SELECT {_WORKFLOW_SCHEDULE} FROM workflows "
            f"WHERE trigger_type = 'SCHEDULED' AND state = '{LifecycleState.ACTIVE}'{where}",
            {"ids": function_ids},
        )
        .fetchall()
    )


def lock_due(
    conn: psycopg.Connection, function_ids: list[uuid.UUID], workflow_ids: list[uuid.UUID] = ()
) -> dict[uuid.UUID, dict[str, Any]]:
    """Lock the functions and workflows whose ticks this scheduler handles now, by id; those
    another scheduler holds are skipped (absent)."""
    cursor = conn.cursor(row_factory=dict_row)
    rows: list[dict[str, Any]] = []
    if function_ids:
        rows += cursor.execute(
            f"SELECT {_SCHEDULE} FROM functions WHERE id = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED",
            (list(function_ids),),
        ).fetchall()
    if workflow_ids:
        rows += cursor.execute(
            f"SELECT {_WORKFLOW_SCHEDULE} FROM workflows WHERE id = ANY(%s) "
            "ORDER BY id FOR UPDATE SKIP LOCKED",
            (list(workflow_ids),),
        ).fetchall()
    return {row["id"]: row for row in rows}


@dataclass(frozen=True, slots=True)
class Advance:
    """A locked function's (or workflow's) handled ticks: its new cursor and what became of them."""

    id: uuid.UUID
    cursor: datetime
    fired: datetime | None
    missed: int
    skipped_not_ready: bool


_ADVANCE = {
    "function": (
        "UPDATE functions f SET schedule_cursor = v.cursor, last_run_at = COALESCE(v.fired, f.last_run_at), "
        "missed_ticks = f.missed_ticks + v.missed, skipped_not_ready = f.skipped_not_ready + v.skipped "
        "FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[], %s::bigint[], %s::bigint[]) "
        "AS v(id, cursor, fired, missed, skipped) WHERE f.id = v.id AND f.schedule_cursor < v.cursor"
    ),
    "workflow": (
        "UPDATE workflows w SET schedule_cursor = v.cursor, last_run_at = COALESCE(v.fired, w.last_run_at), "
        "missed_ticks = w.missed_ticks + v.missed "
        "FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[], %s::bigint[], %s::bigint[]) "
        "AS v(id, cursor, fired, missed, skipped) WHERE w.id = v.id AND w.schedule_cursor < v.cursor"
    ),
}


def advance(conn: psycopg.Connection, advances: list[Advance], *, kind: str = "function") -> None:
    """Move the tick cursors of locked functions (or workflows) and record what happened to their
    ticks, in one statement."""
    if not advances:
        return
    conn.execute(
        _ADVANCE[kind],
        (
            [a.id for a in advances],
            [a.cursor for a in advances],
            [a.fired for a in advances],
            [a.missed for a in advances],
            [int(a.skipped_not_ready) for a in advances],
        ),
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
