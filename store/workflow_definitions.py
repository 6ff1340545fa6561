"""SQL for named workflows and their versions."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from contracts.statuses import LifecycleState

COLUMNS = (
    "id, tenant_id, name, description, version, steps, on_failure, trigger_type, cron_expression, timezone, "
    "misfire_grace_s, event_types, state, last_run_at, missed_ticks, created_at, updated_at"
)
# What a PUT may set; a change of steps or onFailure makes a new version.
FIELDS = (
    "description",
    "steps",
    "on_failure",
    "trigger_type",
    "cron_expression",
    "timezone",
    "misfire_grace_s",
    "event_types",
    "state",
)
_JSON = ("steps", "on_failure")


def _value(column: str, value: Any) -> Any:
    return Jsonb(value) if column in _JSON and value is not None else value


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str, *, lock: bool = False) -> dict | None:
    """One workflow of the tenant by name, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM workflows WHERE tenant_id = %s AND name = %s"
            + (" FOR UPDATE" if lock else ""),
            (tenant_id, name),
        )
        .fetchone()
    )


def by_id(conn: psycopg.Connection, workflow_id: uuid.UUID) -> dict | None:
    """One workflow whatever its tenant (the scheduler's read)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {COLUMNS} FROM workflows WHERE id = %s", (workflow_id,))
        .fetchone()
    )


def list_page(conn: psycopg.Connection, tenant_id: uuid.UUID, *, limit: int, offset: int) -> list[dict]:
    """The tenant's workflows by name."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM workflows WHERE tenant_id = %s ORDER BY name LIMIT %s OFFSET %s",
            (tenant_id, limit, offset),
        )
        .fetchall()
    )


def insert(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str, values: dict[str, Any]) -> dict:
    """A new workflow at version 1 (the caller adds the version row)."""
    columns = [c for c in FIELDS if c in values]
    placeholders = ", ".join(["%s"] * len(columns))
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"INSERT INTO workflows (tenant_id, name, {', '.join(columns)}) VALUES (%s, %s, {placeholders}) "
            f"RETURNING {COLUMNS}",
            (tenant_id, name, *[_value(c, values[c]) for c in columns]),
        )
        .fetchone()
    )


def update(
    conn: psycopg.Connection, workflow_id: uuid.UUID, values: dict[str, Any], *, new_version: bool
) -> dict:
    """Change a workflow; `new_version` bumps its version number."""
    columns = [c for c in FIELDS if c in values]
    sets = [f"{c} = %s" for c in columns] + ["updated_at = now()"]
    if new_version:
        sets.append("version = version + 1")
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"UPDATE workflows SET {', '.join(sets)} WHERE id = %s RETURNING {COLUMNS}",
            (*[_value(c, values[c]) for c in columns], workflow_id),
        )
        .fetchone()
    )


def insert_version(conn: psycopg.Connection, row: dict, *, actor: str | None, change: str | None) -> None:
    """Record the workflow's current canvas as its version `row['version']`."""
    conn.execute(
        "INSERT INTO workflow_versions "
        "(workflow_id, version, steps, on_failure, change_description, created_by) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (
            row["id"],
            row["version"],
            Jsonb(row["steps"]),
            _value("on_failure", row["on_failure"]),
            change,
            actor,
        ),
    )


def versions(conn: psycopg.Connection, workflow_id: uuid.UUID) -> list[dict]:
    """Every version of a workflow, newest first."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT version, steps, on_failure, change_description, created_by, created_at "
            "FROM workflow_versions WHERE workflow_id = %s ORDER BY version DESC",
            (workflow_id,),
        )
        .fetchall()
    )


def delete(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str) -> bool:
    """Delete a workflow and its versions (its runs stay)."""
    return (
        conn.execute("DELETE FROM workflows WHERE tenant_id = %s AND name = %s", (tenant_id, name)).rowcount
        == 1
    )


def event_subscribers(conn: psycopg.Connection, tenant_id: uuid.UUID) -> list[dict]:
    """The tenant's ACTIVE EVENT workflows (the dispatcher matches their patterns)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM workflows "
            f"WHERE tenant_id = %s AND trigger_type = 'EVENT' AND state = '{LifecycleState.ACTIVE}'",
            (tenant_id,),
        )
        .fetchall()
    )
