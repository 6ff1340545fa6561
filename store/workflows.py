"""SQL for workflow runs and their steps (executions with a workflow_run_id)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from broker import Broker
from contracts.queues import EXECUTIONS, RUN_EXECUTION_TASK
from contracts.statuses import UNFINISHED, ExecutionStatus
from infra import retry_policy

ACTIVE = UNFINISHED
# A run is PENDING until one of its steps starts: RUNNING is derived from the steps when read,
# so starting a step costs no write to the run row.
_STATUS = f"""CASE WHEN r.status = '{ExecutionStatus.PENDING}' AND EXISTS (
    SELECT 1 FROM executions e WHERE e.workflow_run_id = r.id AND e.started_at IS NOT NULL)
    THEN '{ExecutionStatus.RUNNING}' ELSE r.status END"""
_COLUMNS = f"""r.id, r.tenant_id, {_STATUS} AS status, r.steps, r.on_failure, r.input, r.output, r.error,
    r.failed_step, r.workflow_name, r.workflow_version, r.trigger_type, r.trigger_data, r.created_at,
    (SELECT min(e.started_at) FROM executions e WHERE e.workflow_run_id = r.id) AS started_at,
    r.completed_at"""


def insert_run(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    *,
    steps: Any,
    on_failure: Any,
    input_value: Any,
    workflow_name: str | None = None,
    workflow_version: int | None = None,
    trigger_type: str = "API",
    trigger_data: Any = None,
    dedup_key: str | None = None,
) -> uuid.UUID | None:
    """A new PENDING run (its first steps are queued by the caller in the same transaction);
    None when `dedup_key` already started a run of the tenant (a cron tick, an event)."""
    row = conn.execute(
        "INSERT INTO workflow_runs (tenant_id, steps, on_failure, input, workflow_name, workflow_version, "
        "trigger_type, trigger_data, dedup_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (tenant_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING RETURNING id",
        (
            tenant_id,
            Jsonb(steps),
            Jsonb(on_failure) if on_failure is not None else None,
            Jsonb(input_value),
            workflow_name,
            workflow_version,
            trigger_type,
            Jsonb(trigger_data) if trigger_data is not None else None,
            dedup_key,
        ),
    ).fetchone()
    return row[0] if row else None


def lock_run(conn: psycopg.Connection, run_id: uuid.UUID) -> dict[str, Any] | None:
    """The run's id, tenant and stored status, its row locked until the transaction ends: every
    hand-over of a run takes this lock first, so they happen one after the other."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute("SELECT id, tenant_id, status FROM workflow_runs WHERE id = %s FOR UPDATE", (run_id,))
        .fetchone()
    )


def canvas(conn: psycopg.Connection, run_id: uuid.UUID) -> tuple[Any, Any]:
    """(steps, onFailure) of a run: the canvas it was started with."""
    return conn.execute("SELECT steps, on_failure FROM workflow_runs WHERE id = %s", (run_id,)).fetchone()


def open_joins(conn: psycopg.Connection, run_id: uuid.UUID, joins: dict[str, int]) -> None:
    """Set the counters of the groups that start now (members not finished)."""
    conn.execute("UPDATE workflow_runs SET joins = joins || %s WHERE id = %s", (Jsonb(joins), run_id))


def _decrement(group: str) -> str:
    """SQL: the run row's `joins` with the counter of the group named by parameter `group` one less."""
    return f"jsonb_set(joins, ARRAY[{group}], to_jsonb((joins->>{group})::int - 1))"


def count_down(
    conn: psycopg.Connection, run_id: uuid.UUID, group: str, statuses: tuple[str, ...] = ACTIVE
) -> dict[str, Any] | None:
    """One member of `group` finished: decrement its counter, locking the run row (the same lock
    as `lock_run`), when the run's stored status is one of `statuses`. Returns the run's id,
    tenant, status and `left` (members not finished), or None when the run is in another status."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"UPDATE workflow_runs SET joins = {_decrement('%(g)s')} "
            "WHERE id = %(id)s AND status = ANY(%(statuses)s) "
            "RETURNING id, tenant_id, status, (joins->>%(g)s)::int AS left",
            {"g": group, "id": run_id, "statuses": list(statuses)},
        )
        .fetchone()
    )


# A group member's end and its count-down in the statement that records the end (see
# `member_end_params`). The CTE names are those of store/attempts.py's end_ctes.
_ACTIVE_JOIN = "id = %(join_run)s AND status = ANY(%(join_statuses)s) AND (joins->>%(join_group)s)::int > 1"
MEMBER_GUARD = f"EXISTS (SELECT 1 FROM workflow_runs WHERE {_ACTIVE_JOIN})"
MEMBER_COUNT_DOWN_CTE = f"""jd AS (
    UPDATE workflow_runs
    SET joins = {_decrement("%(join_group)s")}
    WHERE {_ACTIVE_JOIN} AND EXISTS (SELECT 1 FROM u)
    RETURNING id
)"""
# Evaluated last (it takes the run row's lock, held until the commit): an end recorded whose
# count-down found the join at its last member or the run ended (another member or a cancel got
# there first, after the statement's snapshot) rolls the whole statement back.
MEMBER_COUNTED = (
    "CASE WHEN EXISTS (SELECT 1 FROM u) AND NOT EXISTS (SELECT 1 FROM jd) "
    "THEN pnil_abort('the join was counted down meanwhile: record this member with its hand-over') END"
)


def member_end_params(join_run: uuid.UUID, join_group: str, join_statuses: tuple[str, ...]) -> dict[str, Any]:
    """The parameters of MEMBER_GUARD, MEMBER_COUNT_DOWN_CTE and MEMBER_COUNTED.

    Together they record a group member's end (CTE `u`, guarded by MEMBER_GUARD) with the
    count-down of its join, only when the run is in one of `join_statuses` and the member is
    not the join's last: the end of the last one (which queues what follows) and of a member of
    a run that ended are not recorded by that statement, and the caller records them with the
    whole hand-over (`workflows.handover.step_ended`). The run row is locked by the count-down,
    at the statement's end, so that concurrent members wait on each other as briefly as can be."""
    return {"join_run": join_run, "join_group": join_group, "join_statuses": list(join_statuses)}


def end_run(
    conn: psycopg.Connection,
    run_id: uuid.UUID,
    status: str,
    *,
    output: Any = None,
    error: str | None = None,
    failed_step: str | None = None,
) -> bool:
    """Record the run's end (COMPLETED, FAILED or CANCELLED) unless it already ended."""
    return (
        conn.execute(
            "UPDATE workflow_runs SET status = %s, output = %s, error = %s, failed_step = %s, "
            f"completed_at = clock_timestamp() WHERE id = %s AND status IN ('{ExecutionStatus.PENDING}', "
            f"'{ExecutionStatus.RUNNING}')",
            (status, Jsonb(output) if output is not None else None, error, failed_step, run_id),
        ).rowcount
        == 1
    )


_SEND = Broker.send_sql(
    f"'{EXECUTIONS}'",
    "jsonb_build_object('executionId', ins.id, 'functionId', ins.function_id, 'tenantId', ins.tenant_id, "
    "'createdAt', ins.created_at)",
    f'\'{{"task": "{RUN_EXECUTION_TASK}"}}\'',
)
# The steps' PENDING rows and their `executions` messages in one round trip. A function deleted
# since the run was submitted has no row: the caller sees its path missing. A step carries the
# event depth of its run (0 unless an event started it), so events its code emits, and its own
# jsruntime.execution.* events, count towards PNIL_MAX_EVENT_DEPTH like an EVENT execution's.
_QUEUE_STEPS = f"""
WITH s AS (
    SELECT * FROM jsonb_to_recordset(%(steps)s::jsonb) AS s(path text, function_id uuid, input jsonb,
                                                                   trigger_data jsonb)
), ins AS (
    INSERT INTO executions (function_id, tenant_id, status, trigger_type, trigger_data, input,
                            workflow_run_id, step_path, retry_policy, max_attempts)
    SELECT f.id, f.tenant_id, '{ExecutionStatus.PENDING}', 'WORKFLOW', s.trigger_data || run.depth, s.input,
        %(run)s, s.path,
           p.policy, (p.policy->>'maxAttempts')::integer
    FROM s JOIN functions f ON f.id = s.function_id AND f.tenant_id = %(tenant)s,
         LATERAL (SELECT %(defaults)s::jsonb || COALESCE(f.retry_policy, '{{}}'::jsonb)
                         || COALESCE(s.trigger_data->'retryPolicy', '{{}}'::jsonb) AS policy) p,
         (SELECT jsonb_build_object('depth', COALESCE((trigger_data->>'depth')::int, 0)) AS depth
          FROM workflow_runs WHERE id = %(run)s) run
    RETURNING id, function_id, tenant_id, step_path, created_at
)
SELECT ins.step_path, {_SEND} FROM ins
"""


def queue_steps(
    conn: psycopg.Connection, tenant_id: uuid.UUID, run_id: uuid.UUID, steps: list[dict[str, Any]]
) -> set[str]:
    """Queue step executions `{path, function_id, input, trigger_data}`; returns the paths queued.

    Each step follows its function's retry policy, overridden field by field by the step's own
    (`trigger_data.retryPolicy`); a retried attempt carries the run and the step path on."""
    defaults = Jsonb(retry_policy.DEFAULTS)
    params = {"steps": Jsonb(steps), "run": run_id, "tenant": tenant_id, "defaults": defaults}
    rows = conn.execute(_QUEUE_STEPS, params).fetchall()
    return {row[0] for row in rows}


def step_outputs(conn: psycopg.Connection, run_id: uuid.UUID, prefix: str) -> dict[str, Any]:
    """The outputs of the run's completed steps under the node at `prefix`, by path."""
    rows = conn.execute(
        "SELECT step_path, output FROM executions WHERE workflow_run_id = %s AND status = "
        f"'{ExecutionStatus.COMPLETED}' "
        "AND left(step_path, %s) = %s",
        (run_id, len(prefix) + 1, prefix + "/"),
    ).fetchall()
    return dict(rows)


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any] | None:
    """One run of the tenant, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_COLUMNS} FROM workflow_runs r WHERE r.id = %s AND r.tenant_id = %s",
            (run_id, tenant_id),
        )
        .fetchone()
    )


def list_page(
    conn: psycopg.Connection, tenant_id: uuid.UUID, *, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """The tenant's runs, newest first, optionally of one status."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT * FROM (SELECT {_COLUMNS} FROM workflow_runs r WHERE r.tenant_id = %s) r "
            "WHERE %s::text IS NULL OR r.status = %s "
            "ORDER BY r.created_at DESC, r.id DESC LIMIT %s OFFSET %s",
            (tenant_id, status, status, limit, offset),
            prepare=False,  # optional filters: planned per call (see store/__init__.py)
        )
        .fetchall()
    )


def steps(conn: psycopg.Connection, run_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Per step path: its latest execution (attempt) and how many attempts it had."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT DISTINCT ON (step_path) step_path, id, status, started_at, completed_at, metrics, "
            "error_message, count(*) OVER (PARTITION BY step_path) AS attempts "
            "FROM executions WHERE workflow_run_id = %s ORDER BY step_path, created_at DESC, id DESC",
            (run_id,),
        )
        .fetchall()
    )
    return {row["step_path"]: row for row in rows}


def function_names(conn: psycopg.Connection, tenant_id: uuid.UUID, ids: list[str]) -> dict[str, str]:
    """Names of the tenant's functions by id (for showing a run's tree)."""
    rows = conn.execute(
        "SELECT id::text, name FROM functions WHERE tenant_id = %s AND id = ANY(%s::uuid[])", (tenant_id, ids)
    ).fetchall()
    return dict(rows)


def functions_by_ref(conn: psycopg.Connection, tenant_id: uuid.UUID, refs: list[str]) -> list[dict[str, Any]]:
    """The tenant's functions a list of names or ids refers to (with status and state)."""
    ids = []
    for ref in refs:
        try:
            ids.append(str(uuid.UUID(ref)))
        except ValueError:
            pass
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT id::text AS id, name, status, state FROM functions WHERE tenant_id = %s "
            "AND (name = ANY(%s) OR id = ANY(%s::uuid[]))",
            (tenant_id, refs, ids),
        )
        .fetchall()
    )
