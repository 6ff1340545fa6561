"""Row-level retention: what dropping whole day partitions cannot do by itself.

Day partitions go when the longest window of any tenant has passed them (store/partitions.py);
these statements prune, in bounded batches, the rows of tenants with a shorter window, the
archive partitions, and function versions past the newest N.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from contracts.statuses import ExecutionStatus

BATCH = 5000


def windows(conn: psycopg.Connection, execution_days: int, event_days: int) -> list[dict[str, Any]]:
    """Every tenant with the windows in force for it (its own or the server's)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT id, slug, COALESCE(execution_retention_days, %s) AS execution_days, "
            "COALESCE(event_retention_days, %s) AS event_days FROM tenants ORDER BY slug",
            (execution_days, event_days),
        )
        .fetchall()
    )


# Past the window, an execution goes unless it is the newest of its function, has not ended (a
# PENDING or RUNNING attempt of a retry chain, a step) or is a step of a workflow run still going
# (the run's hand-over reads its steps' outputs).
_EXECUTIONS_PAST = f"""
DELETE FROM executions WHERE (id, created_at) IN (
    SELECT e.id, e.created_at FROM {{table}} e
    WHERE e.tenant_id = %(tenant)s AND e.created_at < now() - make_interval(days => %(days)s)
      AND e.status NOT IN ('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}')
      AND NOT EXISTS (SELECT 1 FROM workflow_runs r
                      WHERE r.id = e.workflow_run_id AND r.status IN ('{ExecutionStatus.PENDING}',
                          '{ExecutionStatus.RUNNING}'))
      AND EXISTS (SELECT 1 FROM executions n
                  WHERE n.function_id = e.function_id AND n.created_at > e.created_at)
    LIMIT %(batch)s)
"""


def delete_executions_past(
    conn: psycopg.Connection, tenant_id: uuid.UUID, days: int, *, archive_only: bool, batch: int = BATCH
) -> int:
    """Delete up to `batch` of the tenant's executions older than `days` (see the rule above)."""
    table = sql.Identifier("executions_archive" if archive_only else "executions")
    return conn.execute(
        sql.SQL(_EXECUTIONS_PAST).format(table=table), {"tenant": tenant_id, "days": days, "batch": batch}
    ).rowcount


# A workflow run goes with the execution window once it has ended and none of its steps is
# PENDING or RUNNING; its steps go with it (executions.workflow_run_id ON DELETE CASCADE).
_WORKFLOW_RUNS_PAST = f"""
DELETE FROM workflow_runs WHERE id IN (
    SELECT r.id FROM workflow_runs r
    WHERE r.tenant_id = %(tenant)s AND r.created_at < now() - make_interval(days => %(days)s)
      AND r.status NOT IN ('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}')
      AND NOT EXISTS (SELECT 1 FROM executions e
                      WHERE e.workflow_run_id = r.id AND e.status IN ('{ExecutionStatus.PENDING}',
                          '{ExecutionStatus.RUNNING}'))
    LIMIT %(batch)s)
"""


def delete_workflow_runs_past(
    conn: psycopg.Connection, tenant_id: uuid.UUID, days: int, *, archive_only: bool = False, batch: int = 500
) -> int:
    """Delete up to `batch` of the tenant's ended workflow runs older than `days`, with their steps."""
    del archive_only  # workflow_runs is not partitioned
    return conn.execute(_WORKFLOW_RUNS_PAST, {"tenant": tenant_id, "days": days, "batch": batch}).rowcount


def delete_events_past(
    conn: psycopg.Connection, tenant_id: uuid.UUID, days: int, *, archive_only: bool, batch: int = BATCH
) -> int:
    """Delete up to `batch` of the tenant's events older than `days`."""
    table = sql.Identifier("events_archive" if archive_only else "events")
    return conn.execute(
        sql.SQL(
            "DELETE FROM events WHERE (id, created_at) IN (SELECT id, created_at FROM {} "
            "WHERE tenant_id = %s AND created_at < now() - make_interval(days => %s) LIMIT %s)"
        ).format(table),
        (tenant_id, days, batch),
    ).rowcount


# A version goes when `keep` newer ones exist and no execution inside its tenant's window ran it.
_VERSIONS_PAST = """
WITH many AS (
    SELECT function_id, max(version) AS newest FROM function_versions
    GROUP BY function_id HAVING count(*) > %(keep)s
)
DELETE FROM function_versions v USING many, tenants t
WHERE v.function_id = many.function_id AND t.id = v.tenant_id AND v.version <= many.newest - %(keep)s
  AND NOT EXISTS (
      SELECT 1 FROM executions e
      WHERE e.function_id = v.function_id AND e.version = v.version
        AND e.created_at > now() - make_interval(days => COALESCE(t.execution_retention_days, %(days)s)))
"""


def delete_versions_past(conn: psycopg.Connection, keep: int, default_days: int) -> int:
    """Delete function versions beyond the newest `keep` that no execution in the window refers to."""
    return conn.execute(_VERSIONS_PAST, {"keep": keep, "days": default_days}).rowcount


def record_prune(conn: psycopg.Connection, started_at: Any, cpu_ms: float, removed: dict[str, int]) -> None:
    """Remember one housekeeping prune: when, how much CPU it took here, what it removed."""
    conn.execute(
        "INSERT INTO prune_runs (started_at, finished_at, cpu_ms, removed) VALUES (%s, now(), %s, %s)",
        (started_at, cpu_ms, Jsonb(removed)),
    )
    conn.execute("DELETE FROM prune_runs WHERE id < (SELECT max(id) - 100 FROM prune_runs)")


def last_prune(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The latest housekeeping prune, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute("SELECT started_at, finished_at, cpu_ms, removed FROM prune_runs ORDER BY id DESC LIMIT 1")
        .fetchone()
    )
