"""How an attempt ends, and what follows it in the same statement: its next attempt.

A queued execution carries the effective retry policy of its chain (`retry_policy`, see
infra/retry_policy.py). The statement that records an attempt's end (`finish`, or `fail_lost`
for an attempt whose process died) decides whether it is retried, marks it `retried`, inserts
the next attempt PENDING with `scheduled_for` and sends its queue message, delayed until then
(pgmq's visibility time: nothing polls while it waits), and publishes
`jsruntime.execution.retrying`. One statement, so there is no moment between the end and the
next attempt: a process killed anywhere leaves either neither or both; a second recording of
the same end matches no RUNNING row (and the next attempt is only inserted when none has that
`retry_of`), so it is harmless.

`next_attempt_ctes` is the reusable part: any statement that ends attempts (a workflow step
too) selects its ended rows with the columns it names and appends these CTEs.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from broker import Broker
from contracts.queues import EXECUTIONS, RUN_EXECUTION_TASK
from contracts.statuses import ExecutionStatus
from events.domain import execution_ended_ctes, execution_retrying_ctes
from infra.limits import DEFAULTS, TRUNCATED_MARKER
from infra.retry_policy import MAX_WAIT_MS, delay_ms_sql, retries_on_sql
from store import day_partition
from store.executions import CANCELLED_MESSAGE, COLUMNS, MAX_ERROR_CHARS, MAX_LOG_CHARS, clean_text
from store.positional import Positional

# An execution RUNNING longer than its time limit plus this cannot still be running: the runner
# pool kills overruns after a second. Such a row was lost by a process that died.
LOST_AFTER_GRACE_S = 60
_TIME_LIMIT_S = "COALESCE((f.resource_limits->>'maxExecutionTimeMs')::bigint, %(default_time_ms)s) / 1000.0"
LOST_MESSAGE = (
    "the platform lost this execution: the process running it (executor or web worker) stopped "
    "before recording how it ended; it was not run again because a function may have side effects "
    "(retryPolicy.retryLost allows it); run it again if that is safe"
)


def retry_sql(row: str, status: str, delay_ms: str, *, requested: str = "false") -> str:
    """SQL: whether the attempt `row` (an executions row alias), ending with `status` after a wait
    of `delay_ms`, gets a next attempt. `requested` is true when the code asked for a retry
    (whatever retryOn says). Sync executions have no policy and never retry."""
    return f"""({row}.retry_policy IS NOT NULL AND {row}.cancel_requested_at IS NULL
        AND {row}.attempt < {row}.max_attempts
        AND ({requested} OR {retries_on_sql(f"{row}.retry_policy", status)})
        AND ({row}.expires_at IS NULL
             OR clock_timestamp() + make_interval(secs => {delay_ms} / 1000.0) < {row}.expires_at))"""


def next_attempt_ctes(ended: str) -> tuple[str, str]:
    """CTEs creating the next attempt of every row of CTE `ended` that says `retried`.

    `ended` must give: id, function_id, tenant_id, trigger_type, trigger_data, input, attempt,
    max_attempts, first_attempt_id (its chain's first id), retry_policy, expires_at, retried,
    next_delay_ms, workflow_run_id and step_path (a workflow step's next attempt is the same
    step). Returns (the CTE text, an expression the caller must select so that the
    sends run: the next attempt's id, for one ended row).
    """
    send = Broker.send_sql(
        f"'{EXECUTIONS}'",
        "jsonb_build_object('executionId', id, 'functionId', function_id, 'tenantId', tenant_id, "
        "'createdAt', created_at)",
        f'\'{{"task": "{RUN_EXECUTION_TASK}"}}\'',
        at_sql="scheduled_for",
    )
    retrying, retrying_sent = execution_retrying_ctes("next_attempt")
    ctes = f"""next_attempt AS (
    INSERT INTO executions (function_id, tenant_id, status, trigger_type, trigger_data, input, attempt,
                            max_attempts, retry_of, first_attempt_id, retry_policy, scheduled_for,
                            expires_at, workflow_run_id, step_path)
    SELECT function_id, tenant_id, '{ExecutionStatus.PENDING}', trigger_type, trigger_data, input, attempt +
        1, max_attempts,
           id, first_attempt_id, retry_policy,
           clock_timestamp() + make_interval(secs => next_delay_ms / 1000.0), expires_at,
           workflow_run_id, step_path
    FROM {ended} WHERE retried
      -- executions is partitioned (0021): retry_of cannot be unique, so no ON CONFLICT. The
      -- statement ending an attempt matches only a RUNNING row, so a second recording of the same
      -- end has no ended row; this guard keeps a chain single-file all the same.
      AND NOT EXISTS (SELECT 1 FROM executions n WHERE n.retry_of = {ended}.id)
    RETURNING id, function_id, tenant_id, trigger_type, trigger_data, attempt, retry_of, scheduled_for,
              created_at
), next_attempt_sent AS (SELECT {send} AS msg_id FROM next_attempt), {retrying}"""
    selected = (
        "(SELECT id FROM next_attempt "
        f"WHERE (SELECT count(*) FROM next_attempt_sent) >= 0 AND {retrying_sent} >= 0 LIMIT 1)"
    )
    return ctes, selected


_NEXT, _NEXT_ID = next_attempt_ctes("u")
_ENDED, _ENDED_SENT = execution_ended_ctes("u")
_STATUS = f"CASE WHEN x.cancel_requested_at IS NULL THEN %(status)s ELSE '{ExecutionStatus.CANCELLED}' END"


# A cancel requested while the run was in flight wins over how the sandbox ended. The slot this
# connection holds is released in the same round trip. The wait before a next attempt is drawn
# once (`cur`), the decision is taken on the row as the update sees it (a cancel that came in
# meanwhile stops the retry).
# An attempt that did not fail (COMPLETED, CANCELLED) is never retried: its statement leaves the
# next-attempt CTEs out (`retries=False`), a smaller plan for the common case.
_REQUESTED = "%(retry_requested)s"


def end_ctes(
    *,
    retries: bool,
    created_at: str,
    ended_at: str = "clock_timestamp()",
    table: str = day_partition.PARENT,
    guard: str = "",
) -> str:
    """The CTEs (cur, u, the ended event and, with `retries`, the next attempt) recording one
    attempt's end from the parameters of `finish`; `created_at` is the SQL of the execution's
    creation time (its day partition) or "" (any day); `ended_at` the SQL of its completedAt;
    `table` the execution's day partition when known (store/day_partition.py); `guard` a
    condition (SQL) without which the end is not recorded."""
    cur_filter = f"AND created_at = {created_at}" if created_at else ""
    if guard:
        cur_filter = f"{cur_filter} AND {guard}"
    x_in_day = f"AND x.created_at = {created_at}" if created_at else ""
    if retries:
        delay = f"COALESCE(%(retry_delay_ms)s::float8, {delay_ms_sql('retry_policy', 'attempt')})"
        retried = (
            f"%(status)s IN ('{ExecutionStatus.FAILED}', '{ExecutionStatus.TIMEOUT}')\n"
            f"                  AND {retry_sql('x', '%(status)s', 'cur.delay_ms', requested=_REQUESTED)}"
        )
    else:
        delay, retried = "NULL::float8", "false"
    ctes = f"""cur AS (
    SELECT id AS cur_id, {delay} AS delay_ms
    FROM {table} WHERE id = %(id)s AND status = '{ExecutionStatus.RUNNING}' {cur_filter}
), u AS (
    UPDATE {table} x SET
        status = {_STATUS},
        output = CASE WHEN x.cancel_requested_at IS NULL THEN %(output)s::jsonb END,
        error_message = CASE WHEN x.cancel_requested_at IS NULL THEN %(error)s ELSE %(cancelled)s END,
        logs = %(logs)s, metrics = %(metrics)s, completed_at = {ended_at},
        retried = {retried}
    FROM cur WHERE x.id = cur.cur_id AND x.status = '{ExecutionStatus.RUNNING}' {x_in_day}
    RETURNING {COLUMNS}, cur.delay_ms AS next_delay_ms
), {_ENDED}"""
    return f"{ctes}, {_NEXT}" if retries else ctes


def end_selected(*, retries: bool) -> str:
    """What a statement using `end_ctes` must select so that its sends run."""
    return f"{_ENDED_SENT} AS ended_event_sent, {_NEXT_ID if retries else 'NULL::uuid'} AS next_attempt_id"


def retries_possible(status: str) -> bool:
    """Whether an attempt ending with `status` may get a next attempt (only failures do)."""
    return status in (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT)


# How `finish` frees the ended run's slot: every slot of the connection, or (`slot` given: the
# connection already holds its next run's) that one only.
_UNLOCK_ALL = "pg_advisory_unlock_all()"
_UNLOCK_ONE = "pg_advisory_unlock(%(slot_key)s::integer, %(slot)s::integer)"


def _finish_sql(
    *, retries: bool, in_day: bool, table: str = day_partition.PARENT, one_slot: bool = False
) -> str:
    return f"""
WITH {end_ctes(retries=retries, created_at="%(created_at)s" if in_day else "", table=table)}
SELECT u.*, {_UNLOCK_ONE if one_slot else _UNLOCK_ALL}, {end_selected(retries=retries)},
       %(durable)s OR set_config('synchronous_commit', 'off', true) IS NOT NULL AS flushed
FROM (SELECT 1) one LEFT JOIN u ON true
"""


# (retries possible, created_at known: only its day partition is touched, one slot) -> statement
_FINISH = {
    (r, d, o): Positional.of(_finish_sql(retries=r, in_day=d, one_slot=o))
    for r in (False, True)
    for d in (False, True)
    for o in (False, True)
}


@lru_cache(maxsize=16)
def _finish_in_day(retries: bool, table: str, one_slot: bool) -> Positional:
    """`finish`'s statement for an execution whose created_at is known, on `table`."""
    return Positional.of(_finish_sql(retries=retries, in_day=True, table=table, one_slot=one_slot))


def end_params(
    execution_id: uuid.UUID,
    *,
    status: str,
    output_json: str | None,
    error_message: str | None,
    logs: str | None,
    metrics: dict[str, Any],
    retry_requested: bool = False,
    retry_delay_ms: int | None = None,
    created_at: Any = None,
) -> dict[str, Any]:
    """The parameters of `end_ctes`."""
    return {
        "status": status,
        "output": output_json,
        "error": clean_text(error_message, MAX_ERROR_CHARS, "…[message truncated]"),
        "cancelled": CANCELLED_MESSAGE,
        "logs": clean_text(logs, MAX_LOG_CHARS, TRUNCATED_MARKER) or None,
        "metrics": Jsonb(metrics),
        "id": execution_id,
        "created_at": created_at,
        "retry_requested": retry_requested and status == ExecutionStatus.FAILED,
        "retry_delay_ms": None if retry_delay_ms is None else min(max(0, retry_delay_ms), MAX_WAIT_MS),
    }


def finish(
    conn: psycopg.Connection,
    execution_id: uuid.UUID,
    *,
    status: str,
    output_json: str | None,
    error_message: str | None,
    logs: str | None,
    metrics: dict[str, Any],
    durable: bool = True,
    retry_requested: bool = False,
    retry_delay_ms: int | None = None,
    created_at: Any = None,
    slot: tuple[int, int] | None = None,
) -> dict[str, Any] | None:
    """Record how the run ended (COMPLETED, FAILED, TIMEOUT or CANCELLED), free its slot and, when
    its retry policy says so, create its next attempt (`next_attempt_id` in the row).

    `retry_requested` (the code asked, FAILED only) retries whatever retryOn says, within
    maxAttempts; `retry_delay_ms` replaces the policy's backoff for that wait.
    None when the execution is gone (its function was deleted) or no longer RUNNING.
    `durable=False` (queued runs: nobody waits on the answer) commits without waiting for the
    WAL flush; a database crash right after can lose the end of the last ~200 ms of runs, which
    the sweep then reports as lost (FAILED, never run twice). `created_at` (the execution's, when
    known) lets PostgreSQL touch only its day partition. `slot` (slot_key, slot number): free
    that slot only, when the connection holds another run's too (the executor's deferred ends).
    """
    params = end_params(
        execution_id,
        status=status,
        output_json=output_json,
        error_message=error_message,
        logs=logs,
        metrics=metrics,
        retry_requested=retry_requested,
        retry_delay_ms=retry_delay_ms,
        created_at=created_at,
    )
    params["durable"] = durable
    one_slot = slot is not None
    if one_slot:
        params.update(slot_key=slot[0], slot=slot[1])
    retries = retries_possible(status)
    if created_at is None:
        row = _FINISH[(retries, False, one_slot)].execute(conn, params).fetchone()
    else:
        row = day_partition.on_day(
            conn,
            created_at,
            lambda table: _finish_in_day(retries, table, one_slot).execute(conn, params).fetchone(),
        )
    return row if row["id"] is not None else None


# A RUNNING execution is lost when the process running it died: its slot lock is free (the
# session that held it ended), or, for rows without a slot, it outlived its time limit by far.
# It is retried only when its policy says retryLost: it may have had effects already.
_NEXT_LOST, _ = next_attempt_ctes("lost")
_LOST_ENDED, _LOST_ENDED_SENT = execution_ended_ctes("lost")
# A lost attempt ends FAILED (retry_sql takes the status as SQL).
_FAILED = f"'{ExecutionStatus.FAILED}'"
_FAIL_LOST = f"""
WITH cand AS (
    SELECT e.id AS cand_id, {delay_ms_sql("e.retry_policy", "e.attempt")} AS delay_ms
    FROM executions e JOIN functions f ON f.id = e.function_id
    WHERE e.status = '{ExecutionStatus.RUNNING}'
      AND CASE WHEN e.slot IS NULL
               THEN e.started_at < now() - make_interval(secs => {_TIME_LIMIT_S} + %(grace_s)s)
               ELSE NOT EXISTS (
                   SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.objsubid = 2
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND l.classid::bigint = (f.slot_key::bigint & 4294967295)
                     AND l.objid::bigint = e.slot AND l.granted)
          END
), lost AS (
    UPDATE executions e
    SET status = '{ExecutionStatus.FAILED}', completed_at = clock_timestamp(), error_message = %(message)s,
        retried = COALESCE((e.retry_policy->>'retryLost')::boolean, false)
                  AND {retry_sql("e", _FAILED, "cand.delay_ms", requested="true")}
    FROM cand WHERE e.id = cand.cand_id AND e.status = '{ExecutionStatus.RUNNING}'
    RETURNING e.id, e.function_id, e.tenant_id, e.status, e.trigger_type, e.trigger_data, e.input,
              e.completed_at, e.error_message, e.metrics, e.attempt, e.max_attempts,
              COALESCE(e.first_attempt_id, e.id) AS first_attempt_id, e.retry_policy, e.expires_at,
              e.retried, cand.delay_ms AS next_delay_ms, e.output, e.workflow_run_id, e.step_path
), {_LOST_ENDED}, {_NEXT_LOST}
SELECT id, function_id, status, output, error_message, retried, workflow_run_id, step_path,
       {_LOST_ENDED_SENT} AS ended_event_sent, (SELECT count(*) FROM next_attempt_sent) AS sent,
       (SELECT count(*) FROM retrying_event_sent) AS retrying_sent FROM lost
"""


def fail_lost(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Mark RUNNING executions whose process died FAILED (and retry those whose policy says
    retryLost); returns their rows (id, function_id, status, output, error_message, retried,
    workflow_run_id, step_path) for what follows their end."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _FAIL_LOST,
            {
                "default_time_ms": DEFAULTS["maxExecutionTimeMs"],
                "grace_s": LOST_AFTER_GRACE_S,
                "message": LOST_MESSAGE,
            },
        )
        .fetchall()
    )
