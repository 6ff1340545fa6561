"""SQL for executions; every read is scoped to a tenant."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from broker import Broker
from contracts.queues import EXECUTIONS, RUN_EXECUTION_TASK
from contracts.statuses import ExecutionStatus, runnable_sql
from events.domain import execution_ended_ctes, execution_started_ctes
from infra import retry_policy as retry_policy_rules
from infra.limits import DEFAULTS, MAX_CONCURRENT_RUNS, MAX_LOG_BYTES
from store import day_partition

COLUMNS = (
    "id, function_id, tenant_id, version, status, trigger_type, trigger_data, input, output, "
    "error_message, logs, metrics, created_at, started_at, completed_at, attempt, max_attempts, "
    "retry_of, COALESCE(first_attempt_id, id) AS first_attempt_id, retried, retry_policy, scheduled_for, "
    "expires_at, replay_of, workflow_run_id, step_path"
)
_RUNNABLE = """
SELECT id, tenant_id, language, status, state, version, resource_limits, allowed_hosts, secrets, slot_key,
       CASE WHEN version = %(cached)s THEN NULL ELSE wasm_binary END AS wasm_binary
FROM functions f WHERE id = %(id)s AND tenant_id = %(tenant)s
"""


# The jsruntime.execution.* events ride on the statements that change an execution's status:
# CTE text publishing them from a source CTE's rows, and what to select so their dispatch runs.
_STARTED_SENT = execution_started_ctes("x")[1]
_ENDED_SENT = execution_ended_ctes("x")[1]

# A function's concurrency slots are session advisory locks (functions.slot_key, slot number),
# slot_key being unique per function (migration 0020):
# whoever runs an execution holds one on the connection it records the run with, and
# PostgreSQL frees it by itself when that connection ends, even when its process was killed.
# The CASE keeps the lock from being tried for a function that may not run.
_TAKE_SLOT = f"""
slot AS (
    SELECT s FROM fn, generate_series(0, LEAST(COALESCE((fn.resource_limits->>'maxConcurrentRuns')::int,
                                                        %(default_runs)s), {MAX_CONCURRENT_RUNS}) - 1) s
    WHERE CASE WHEN {runnable_sql("fn")}{{also}}
               THEN pg_try_advisory_lock(fn.slot_key, s) ELSE false END
    LIMIT 1
)"""

# One round trip for the hot path: read what running needs and, only when the function may run
# (READY and ACTIVE) and a concurrency slot is free, take the slot and insert the execution RUNNING.
# A row with a null execution_id means it may not run now: the caller explains why from the
# function columns (slot_taken null with a runnable function: every slot is busy).
# The RUNNING insert commits without waiting for its WAL flush (synchronous_commit off for this
# transaction only): the `finish` update that ends every execution commits synchronously and
# its flush covers the insert, which precedes it in the WAL. A database crash in between can
# lose only the row of a run no client got an answer for; it saves one flush per execution.
_START_IF_RUNNABLE = f"""
WITH fn AS ({_RUNNABLE}), {_TAKE_SLOT.format(also="")},
ins AS (
    INSERT INTO executions (function_id, tenant_id, version, status, trigger_type,
                            trigger_data, input, started_at, slot, idempotency_key, request_hash)
    SELECT fn.id, fn.tenant_id, fn.version, '{ExecutionStatus.RUNNING}', %(trigger_type)s, %(trigger_data)s,
           %(input)s, clock_timestamp(), slot.s, %(key)s, %(hash)s
    FROM fn, slot WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
    RETURNING id, input, trigger_type, trigger_data, tenant_id, function_id, started_at, created_at
), {execution_started_ctes("ins")[0]}
SELECT fn.*, (SELECT s FROM slot) AS slot_taken, ins.id AS execution_id,
       ins.created_at AS execution_created_at, ins.input, ins.trigger_type, ins.trigger_data,
       {_STARTED_SENT} AS started_event_sent
FROM fn LEFT JOIN ins ON true
"""

# The executor's compare-and-set: a queued execution goes PENDING -> RUNNING at most once, and
# only once it is due (scheduled_for) and not expired (expires_at); `wait_s` and `expired` tell
# the caller otherwise. Its queue message is deleted in the same statement once it started, when
# it is not PENDING any more (a redelivery could never start it again) or when it expired. Like
# the sync insert, this commits without waiting for its WAL flush; the synchronous `finish`
# covers it. A pinned version (a replay) runs only while it is the function's live version.
_START_QUEUED = f"""
WITH e AS (
    SELECT id, function_id, version AS pinned_version,
           COALESCE(expires_at <= clock_timestamp(), false) AS expired,
           GREATEST(0, COALESCE(EXTRACT(EPOCH FROM scheduled_for - clock_timestamp())::float8, 0)) AS wait_s
    FROM {{table}} WHERE id = %(execution_id)s AND status = '{ExecutionStatus.PENDING}' {{in_day}}
),
fn AS (
    SELECT f.id, f.tenant_id, f.language, f.status, f.state, f.version, f.resource_limits, f.allowed_hosts,
           f.secrets, f.slot_key,
           CASE WHEN f.version = %(cached)s THEN NULL ELSE f.wasm_binary END AS wasm_binary,
           NOT e.expired AND e.wait_s = 0 AND COALESCE(e.pinned_version = f.version, true) AS due
    FROM functions f JOIN e ON f.id = e.function_id
), {_TAKE_SLOT.format(also=" AND fn.due")},
upd AS (
    UPDATE {{table}} x SET status = '{ExecutionStatus.RUNNING}', started_at = clock_timestamp(), slot =
        slot.s,
                            version = fn.version
    FROM fn, slot WHERE x.id = %(execution_id)s AND x.status = '{ExecutionStatus.PENDING}' {{x_in_day}}
    RETURNING x.id, x.input, x.trigger_type, x.trigger_data, x.tenant_id, x.function_id, x.started_at,
              x.created_at, x.scheduled_for, x.attempt, x.max_attempts
), {execution_started_ctes("upd")[0]}
SELECT fn.*, (SELECT count(*) FROM e) AS pending, (SELECT s FROM slot) AS slot_taken,
       (SELECT expired FROM e) AS expired, (SELECT wait_s FROM e) AS wait_s,
       (SELECT pinned_version FROM e) AS pinned_version,
       upd.id AS execution_id, upd.created_at AS execution_created_at, upd.input, upd.trigger_type,
       upd.trigger_data, upd.attempt, upd.max_attempts,
       EXTRACT(EPOCH FROM upd.started_at - COALESCE(upd.scheduled_for, upd.created_at))::float8
           AS queue_wait_s,
       {_STARTED_SENT} AS started_event_sent,
       CASE WHEN %(msg_id)s::bigint IS NOT NULL
                 AND (upd.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM e) OR (SELECT expired FROM e))
            THEN {{delete}} AND set_config('synchronous_commit', 'off', true) IS NOT NULL
       END AS acknowledged
FROM (SELECT 1) one LEFT JOIN fn ON true LEFT JOIN upd ON true
"""


def start_if_runnable(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    cached_version: int | None,
    *,
    input_value: Any,
    trigger_type: str,
    trigger_data: Any = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> dict[str, Any] | None:
    """`runnable` and, when READY and ACTIVE, `start` in one statement; None for an unknown function.

    With an idempotency key already taken in the tenant, raises psycopg.errors.UniqueViolation.
    """
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _START_IF_RUNNABLE,
            {
                "id": function_id,
                "tenant": tenant_id,
                "cached": cached_version or -1,
                "trigger_type": trigger_type,
                "trigger_data": Jsonb(trigger_data) if trigger_data is not None else None,
                "input": Jsonb(input_value),
                "default_runs": DEFAULTS["maxConcurrentRuns"],
                "key": idempotency_key,
                "hash": request_hash,
            },
        )
        .fetchone()
    )


def start_queued(
    conn: psycopg.Connection,
    execution_id: uuid.UUID,
    cached_version: int | None,
    *,
    message: tuple[str, int] | None = None,
    created_at: Any = None,
) -> dict[str, Any]:
    """PENDING -> RUNNING when the function may run and a slot is free (see the row's columns).

    `created_at` (the execution's, from its queue message) confines the statement to the
    execution's day partition; without it every partition's index is probed.

    `message` (queue, msg_id) is deleted in the same statement when it has served its purpose
    (`acknowledged` is then true).
    """
    params = start_queued_params(execution_id, cached_version, message=message, created_at=created_at)
    cursor = conn.cursor(row_factory=dict_row)
    if created_at is None:
        return cursor.execute(_START_QUEUED_ANY_DAY, params).fetchone()
    return day_partition.on_day(
        conn, created_at, lambda table: cursor.execute(start_queued_in_day(table), params).fetchone()
    )


def start_queued_params(
    execution_id: uuid.UUID,
    cached_version: int | None,
    *,
    message: tuple[str, int] | None = None,
    created_at: Any = None,
) -> dict[str, Any]:
    """The parameters of `start_queued`'s statement (store/end_then_start.py uses them too)."""
    queue, msg_id = message or (None, None)
    return {
        "execution_id": execution_id,
        "cached": cached_version or -1,
        "default_runs": DEFAULTS["maxConcurrentRuns"],
        "queue": queue,
        "msg_id": msg_id,
        "created_at": created_at,
    }


_START_QUEUED_SQL = _START_QUEUED.replace("{delete}", Broker.delete_sql("%(queue)s", "%(msg_id)s"))
_START_QUEUED_IN_DAY = _START_QUEUED_SQL.replace("{in_day}", "AND created_at = %(created_at)s").replace(
    "{x_in_day}", "AND x.created_at = %(created_at)s"
)
_START_QUEUED_ANY_DAY = (
    _START_QUEUED_SQL.replace("{in_day}", "")
    .replace("{x_in_day}", "")
    .replace("{table}", day_partition.PARENT)
)


@lru_cache(maxsize=8)
def start_queued_in_day(table: str) -> str:
    """`start_queued`'s statement for an execution whose created_at is known, on `table` (its day
    partition, or the parent table: store/day_partition.py)."""
    return _START_QUEUED_IN_DAY.replace("{table}", table)


def release_slots(conn: psycopg.Connection) -> None:
    """Free every slot this connection holds (after an error between taking and recording one)."""
    conn.execute("SELECT pg_advisory_unlock_all()")


# The chain's effective retry policy is fixed here: defaults, then the function's, then the
# request's (infra/retry_policy.py). A delayed execution waits with `scheduled_for` (a runAt in
# the past means now).
_ENQUEUE = f"""
INSERT INTO executions (function_id, tenant_id, status, trigger_type, trigger_data, input,
                        idempotency_key, request_hash, retry_policy, max_attempts, scheduled_for,
                        expires_at, replay_of, version)
SELECT id, tenant_id, '{ExecutionStatus.PENDING}', %(trigger_type)s, %(trigger_data)s, %(input)s, %(key)s,
    %(hash)s, p.policy,
       (p.policy->>'maxAttempts')::integer, t.scheduled_for,
       COALESCE(%(expires_at)s::timestamptz,
                COALESCE(t.scheduled_for, now()) + make_interval(secs => %(max_queue_ms)s / 1000.0)),
       %(replay_of)s, %(version)s
FROM functions,
     LATERAL (SELECT %(defaults)s::jsonb || COALESCE(retry_policy, '{{}}'::jsonb)
                     || COALESCE(%(policy)s::jsonb, '{{}}'::jsonb) AS policy) p,
     LATERAL (SELECT CASE WHEN %(run_at)s::timestamptz IS NOT NULL OR %(delay_ms)s::bigint IS NOT NULL
                          THEN GREATEST(now(), COALESCE(%(run_at)s::timestamptz,
                                                        now() + make_interval(secs => %(delay_ms)s / 1000.0)))
                     END AS scheduled_for) t
WHERE id = %(function_id)s AND tenant_id = %(tenant_id)s
RETURNING {COLUMNS}
"""


def insert_pending(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    *,
    input_value: Any,
    trigger_type: str,
    trigger_data: Any = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    retry_policy: dict[str, Any] | None = None,
    delay_ms: int | None = None,
    run_at: datetime | None = None,
    expires_at: datetime | None = None,
    max_queue_ms: int | None = None,
    replay_of: uuid.UUID | None = None,
    version: int | None = None,
) -> dict[str, Any] | None:
    """A new PENDING execution, or None when the function is unknown.

    With an idempotency key already taken in the tenant, raises psycopg.errors.UniqueViolation
    (the `idempotency_keys` trigger; run it in a savepoint). `retry_policy` overrides the
    function's for this chain; `delay_ms` or `run_at` set when it is due (`scheduled_for`),
    `expires_at` or `max_queue_ms` (from then) when it expires; `version` pins the version it runs.
    """
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _ENQUEUE,
            {
                "function_id": function_id,
                "tenant_id": tenant_id,
                "trigger_type": trigger_type,
                "trigger_data": Jsonb(trigger_data) if trigger_data is not None else None,
                "input": Jsonb(input_value),
                "key": idempotency_key,
                "hash": request_hash,
                "defaults": Jsonb(retry_policy_rules.DEFAULTS),
                "policy": Jsonb(retry_policy) if retry_policy else None,
                "delay_ms": delay_ms,
                "run_at": run_at,
                "expires_at": expires_at,
                "max_queue_ms": max_queue_ms,
                "replay_of": replay_of,
                "version": version,
            },
        )
        .fetchone()
    )


_SEND_QUEUED = Broker.send_sql(
    f"'{EXECUTIONS}'",
    "jsonb_build_object('executionId', ins.id, 'functionId', ins.function_id, 'tenantId', ins.tenant_id, "
    "'createdAt', ins.created_at)",
    "'" + json.dumps({"task": RUN_EXECUTION_TASK}) + "'",
    at_sql="COALESCE(ins.scheduled_for, clock_timestamp())",
)
_QUEUE_BY_REF = f"""
WITH fn AS (
    SELECT id, tenant_id, status, state, retry_policy FROM functions
    WHERE tenant_id = %(tenant)s AND (name = %(ref)s OR id::text = lower(%(ref)s)) LIMIT 1
), ins AS (
    INSERT INTO executions (function_id, tenant_id, status, trigger_type, trigger_data, input,
                            retry_policy, max_attempts, scheduled_for)
    SELECT id, tenant_id, '{ExecutionStatus.PENDING}', %(trigger_type)s, %(trigger_data)s, %(input)s,
        p.policy,
           (p.policy->>'maxAttempts')::integer,
           CASE WHEN %(delay_ms)s::bigint > 0 THEN now() + make_interval(secs => %(delay_ms)s / 1000.0) END
    FROM fn, LATERAL (SELECT %(defaults)s::jsonb || COALESCE(fn.retry_policy, '{{}}'::jsonb) AS policy) p
    WHERE {runnable_sql()}
    RETURNING id, function_id, tenant_id, scheduled_for, created_at
)
SELECT fn.id, fn.status, fn.state, ins.id AS execution_id, (SELECT {_SEND_QUEUED} FROM ins) AS msg_id
FROM fn LEFT JOIN ins ON true
"""


def queue_by_ref(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_ref: str,
    *,
    input_value: Any,
    trigger_type: str,
    trigger_data: Any = None,
    delay_ms: int = 0,
) -> dict[str, Any] | None:
    """Queue an execution of the tenant's function named (or with the id) `function_ref`, its row
    and its `executions` message in one statement, when the function is READY and ACTIVE; it
    follows the function's retry policy and, with `delay_ms`, waits that long (its message too).

    None for an unknown function; a row with a null `execution_id` when it may not run (see
    `status`, `state`).
    """
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _QUEUE_BY_REF,
            {
                "tenant": tenant_id,
                "ref": function_ref,
                "trigger_type": trigger_type,
                "trigger_data": Jsonb(trigger_data) if trigger_data is not None else None,
                "input": Jsonb(input_value),
                "defaults": Jsonb(retry_policy_rules.DEFAULTS),
                "delay_ms": delay_ms,
            },
        )
        .fetchone()
    )


def by_idempotency_key(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str) -> dict[str, Any] | None:
    """The execution a key names (while it is held), with the hash of the request that created it."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS}, request_hash FROM executions WHERE (id, created_at) = "
            "(SELECT execution_id, created_at FROM idempotency_keys WHERE tenant_id = %s AND key = %s)",
            (tenant_id, key),
        )
        .fetchone()
    )


def binary(conn: psycopg.Connection, function_id: uuid.UUID, version: int) -> bytes | None:
    """The compiled artifact of that version, or None when the function moved on."""
    row = conn.execute(
        "SELECT wasm_binary FROM functions WHERE id = %s AND version = %s", (function_id, version)
    ).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


# Backstops whatever a runner lets through: what one execution may store.
MAX_LOG_CHARS = MAX_LOG_BYTES
MAX_ERROR_CHARS = 8 * 1024
CANCELLED_MESSAGE = "cancelled by request (POST /executions/{id}/cancel)"
EXPIRED_MESSAGE = "expired: not started before its expiresAt (maxQueueMs); it was never run"


def clean_text(value: str | None, limit: int, marker: str) -> str | None:
    if not value:
        return value
    # PostgreSQL text cannot hold NUL; a guest may print or throw one.
    value = value.replace("\x00", "\\0")
    return value if len(value) <= limit else value[:limit] + marker


_FAIL_PENDING = f"""
WITH u AS (
    UPDATE executions SET status = '{ExecutionStatus.FAILED}', error_message = %s, completed_at =
        clock_timestamp()
    WHERE id = %s AND status = '{ExecutionStatus.PENDING}' RETURNING {COLUMNS}
), {execution_ended_ctes("u")[0]}
SELECT u.*, {_ENDED_SENT} AS ended_event_sent FROM u
"""


def fail_pending(conn: psycopg.Connection, execution_id: uuid.UUID, message: str) -> dict[str, Any] | None:
    """End a queued execution that cannot run (its function is not READY or not ACTIVE)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _FAIL_PENDING,
            (message, execution_id),
        )
        .fetchone()
    )


_EXPIRE_PENDING = f"""
WITH u AS (
    UPDATE executions SET status = '{ExecutionStatus.FAILED}', error_message = %s, completed_at =
        clock_timestamp()
    WHERE status = '{ExecutionStatus.PENDING}' AND expires_at <= clock_timestamp() RETURNING {COLUMNS}
), {execution_ended_ctes("u")[0]}
SELECT u.*, {_ENDED_SENT} AS ended_event_sent FROM u
"""


def expire_pending(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """End every PENDING execution past its expiresAt FAILED (`expired: ...`); it never runs."""
    return conn.cursor(row_factory=dict_row).execute(_EXPIRE_PENDING, (EXPIRED_MESSAGE,)).fetchall()


_CANCEL = f"""
WITH c AS (
UPDATE executions SET
    status = CASE WHEN status = '{ExecutionStatus.PENDING}' THEN '{ExecutionStatus.CANCELLED}' ELSE status
        END,
    error_message = CASE WHEN status = '{ExecutionStatus.PENDING}' THEN %(message)s ELSE error_message END,
    completed_at = CASE WHEN status = '{ExecutionStatus.PENDING}' THEN clock_timestamp() ELSE completed_at
        END,
    cancel_requested_at = COALESCE(cancel_requested_at, clock_timestamp())
WHERE id = %(id)s AND tenant_id = %(tenant)s AND status IN ('{ExecutionStatus.PENDING}',
    '{ExecutionStatus.RUNNING}')
RETURNING {COLUMNS}
), cancelled AS (SELECT * FROM c WHERE status = '{ExecutionStatus.CANCELLED}'),
    {execution_ended_ctes("cancelled")[0]}
SELECT status, (SELECT pg_notify('pnil_cancel', %(id)s::text)) IS NULL, {_ENDED_SENT} FROM c
"""


def request_cancel(conn: psycopg.Connection, tenant_id: uuid.UUID, execution_id: uuid.UUID) -> str | None:
    """Cancel a PENDING execution now, or ask whoever runs a RUNNING one to stop it (NOTIFY).

    Returns the status after the request (CANCELLED or RUNNING); None when it had already ended
    or does not exist.
    """
    row = conn.execute(
        _CANCEL, {"id": execution_id, "tenant": tenant_id, "message": CANCELLED_MESSAGE}
    ).fetchone()
    return row[0] if row else None


_CANCEL_RUN_STEPS = f"""
WITH c AS (
UPDATE executions SET
    status = CASE WHEN status = '{ExecutionStatus.PENDING}' THEN '{ExecutionStatus.CANCELLED}' ELSE status
        END,
    error_message = CASE WHEN status = '{ExecutionStatus.PENDING}' THEN %(message)s ELSE error_message END,
    completed_at = CASE WHEN status = '{ExecutionStatus.PENDING}' THEN clock_timestamp() ELSE completed_at
        END,
    cancel_requested_at = COALESCE(cancel_requested_at, clock_timestamp())
WHERE workflow_run_id = %(run)s AND status IN ('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}')
RETURNING {COLUMNS}
), cancelled AS (SELECT * FROM c WHERE status = '{ExecutionStatus.CANCELLED}'),
    {execution_ended_ctes("cancelled")[0]},
notified AS (SELECT pg_notify('pnil_cancel', id::text) FROM c WHERE status = '{ExecutionStatus.RUNNING}')
SELECT (SELECT count(*) FROM cancelled), (SELECT count(*) FROM notified), {_ENDED_SENT}
"""


def cancel_run_steps(conn: psycopg.Connection, run_id: uuid.UUID, message: str) -> tuple[int, int]:
    """Cancel every PENDING step of a workflow run now and ask whoever runs a RUNNING one to stop
    it (the NOTIFY of `request_cancel`); returns (cancelled, asked to stop)."""
    row = conn.execute(_CANCEL_RUN_STEPS, {"run": run_id, "message": message}).fetchone()
    return row[0], row[1]


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, execution_id: uuid.UUID) -> dict[str, Any] | None:
    """One execution of the tenant, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM executions WHERE id = %s AND tenant_id = %s", (execution_id, tenant_id)
        )
        .fetchone()
    )


def release_idempotency_keys(conn: psycopg.Connection, older_than_s: int = 24 * 3600) -> int:
    """Forget idempotency keys older than their 24 h window, so a key may be used again."""
    return conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => %s)", (older_than_s,)
    ).rowcount


def function_of(conn: psycopg.Connection, tenant_id: uuid.UUID, execution_id: uuid.UUID) -> uuid.UUID | None:
    """The function of one of the tenant's executions, or None."""
    row = conn.execute(
        "SELECT function_id FROM executions WHERE id = %s AND tenant_id = %s", (execution_id, tenant_id)
    ).fetchone()
    return None if row is None else row[0]
