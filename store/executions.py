"""SQL for executions; every read is scoped to a tenant."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from broker import Broker
from events.domain import execution_ended_ctes, execution_started_ctes
from infra.limits import DEFAULTS, MAX_LOG_BYTES, TRUNCATED_MARKER

COLUMNS = (
    "id, function_id, tenant_id, function_version, status, trigger_type, trigger_data, input, output, "
    "error_message, logs, metrics, created_at, started_at, completed_at"
)
# An execution RUNNING longer than its time limit plus this cannot still be running: the runner
# pool kills overruns after a second. Such a row was lost by a process that died.
LOST_AFTER_GRACE_S = 60
_TIME_LIMIT_S = "COALESCE((f.resource_limits->>'maxExecutionTimeMs')::bigint, %(default_time_ms)s) / 1000.0"
_RUNNABLE = """
SELECT id, tenant_id, language, status, state, revision, resource_limits, allowed_hosts,
       CASE WHEN revision = %(cached)s THEN NULL ELSE wasm_binary END AS wasm_binary
FROM functions f WHERE id = %(id)s AND tenant_id = %(tenant)s
"""


# The jsruntime.execution.* events ride on the statements that change an execution's status:
# CTE text publishing them from a source CTE's rows, and what to select so their dispatch runs.
_STARTED_SENT = execution_started_ctes("x")[1]
_ENDED_SENT = execution_ended_ctes("x")[1]

# A function's concurrency slots are session advisory locks (hashtext(function id), slot number):
# whoever runs an execution holds one on the connection it records the run with, and
# PostgreSQL frees it by itself when that connection ends, even when its process was killed.
# The CASE keeps the lock from being tried for a function that may not run.
_TAKE_SLOT = """
slot AS (
    SELECT s FROM fn, generate_series(0, COALESCE((fn.resource_limits->>'maxConcurrentRuns')::int,
                                                  %(default_runs)s) - 1) s
    WHERE CASE WHEN fn.status = 'READY' AND fn.state = 'ACTIVE'
               THEN pg_try_advisory_lock(hashtext(fn.id::text), s) ELSE false END
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
WITH fn AS ({_RUNNABLE}), {_TAKE_SLOT},
ins AS (
    INSERT INTO executions (function_id, tenant_id, function_version, status, trigger_type,
                            trigger_data, input, started_at, slot, idempotency_key, request_hash)
    SELECT fn.id, fn.tenant_id, fn.revision, 'RUNNING', %(trigger_type)s, %(trigger_data)s,
           %(input)s, clock_timestamp(), slot.s, %(key)s, %(hash)s
    FROM fn, slot WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
    RETURNING id, input, trigger_type, trigger_data, tenant_id, function_id, started_at, created_at
), {execution_started_ctes("ins")[0]}
SELECT fn.*, (SELECT s FROM slot) AS slot_taken, ins.id AS execution_id,
       ins.created_at AS execution_created_at, ins.input, ins.trigger_type, ins.trigger_data,
       {_STARTED_SENT} AS started_event_sent
FROM fn LEFT JOIN ins ON true
"""

# The executor's compare-and-set: a queued execution goes PENDING -> RUNNING at most once.
# Its queue message is deleted in the same statement once it started or when it is not PENDING
# any more: a redelivery could never start it again. Like the sync insert, this commits without
# waiting for its WAL flush; the synchronous `finish` covers it.
_START_QUEUED = f"""
WITH e AS (
    SELECT id, function_id FROM executions WHERE id = %(execution_id)s AND status = 'PENDING' {{in_day}}
),
fn AS (
    SELECT f.id, f.tenant_id, f.language, f.status, f.state, f.revision, f.resource_limits, f.allowed_hosts,
           CASE WHEN f.revision = %(cached)s THEN NULL ELSE f.wasm_binary END AS wasm_binary
    FROM functions f JOIN e ON f.id = e.function_id
), {_TAKE_SLOT},
upd AS (
    UPDATE executions x SET status = 'RUNNING', started_at = clock_timestamp(), slot = slot.s,
                            function_version = fn.revision
    FROM fn, slot WHERE x.id = %(execution_id)s AND x.status = 'PENDING' {{x_in_day}}
    RETURNING x.id, x.input, x.trigger_type, x.trigger_data, x.tenant_id, x.function_id, x.started_at,
              x.created_at
), {execution_started_ctes("upd")[0]}
SELECT fn.*, (SELECT count(*) FROM e) AS pending, (SELECT s FROM slot) AS slot_taken,
       upd.id AS execution_id, upd.created_at AS execution_created_at, upd.input, upd.trigger_type,
       upd.trigger_data,
       EXTRACT(EPOCH FROM upd.started_at - upd.created_at)::float8 AS queue_wait_s,
       {_STARTED_SENT} AS started_event_sent,
       CASE WHEN %(msg_id)s::bigint IS NOT NULL AND (upd.id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM e))
            THEN {{delete}} AND set_config('synchronous_commit', 'off', true) IS NOT NULL
       END AS acknowledged
FROM (SELECT 1) one LEFT JOIN fn ON true LEFT JOIN upd ON true
"""


def start_if_runnable(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    cached_revision: int | None,
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
                "cached": cached_revision or -1,
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
    cached_revision: int | None,
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
    queue, msg_id = message or (None, None)
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            _START_QUEUED_IN_DAY if created_at is not None else _START_QUEUED_ANY_DAY,
            {
                "execution_id": execution_id,
                "cached": cached_revision or -1,
                "default_runs": DEFAULTS["maxConcurrentRuns"],
                "queue": queue,
                "msg_id": msg_id,
                "created_at": created_at,
            },
        )
        .fetchone()
    )


_START_QUEUED_SQL = _START_QUEUED.replace("{delete}", Broker.delete_sql("%(queue)s", "%(msg_id)s"))
_START_QUEUED_IN_DAY = _START_QUEUED_SQL.replace("{in_day}", "AND created_at = %(created_at)s").replace(
    "{x_in_day}", "AND x.created_at = %(created_at)s"
)
_START_QUEUED_ANY_DAY = _START_QUEUED_SQL.replace("{in_day}", "").replace("{x_in_day}", "")


def release_slots(conn: psycopg.Connection) -> None:
    """Free every slot this connection holds (after an error between taking and recording one)."""
    conn.execute("SELECT pg_advisory_unlock_all()")


_ENQUEUE = f"""
INSERT INTO executions (function_id, tenant_id, status, trigger_type, trigger_data, input,
                        idempotency_key, request_hash)
SELECT id, tenant_id, 'PENDING', %(trigger_type)s, %(trigger_data)s, %(input)s, %(key)s, %(hash)s
FROM functions WHERE id = %(function_id)s AND tenant_id = %(tenant_id)s
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
) -> dict[str, Any] | None:
    """A new PENDING execution, or None when the function is unknown.

    With an idempotency key already taken in the tenant, raises psycopg.errors.UniqueViolation.
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
            },
        )
        .fetchone()
    )


def by_idempotency_key(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str) -> dict[str, Any] | None:
    """The execution a key names (while it is held), with the hash of the request that created it."""
    cols = ", ".join(f"e.{c.strip()}" for c in COLUMNS.split(","))
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {cols}, e.request_hash FROM idempotency_keys k JOIN executions e "
            "ON e.id = k.execution_id AND e.created_at = k.created_at "
            "WHERE k.tenant_id = %s AND k.key = %s",
            (tenant_id, key),
        )
        .fetchone()
    )


def binary(conn: psycopg.Connection, function_id: uuid.UUID, revision: int) -> bytes | None:
    """The compiled artifact of that revision, or None when the function moved on."""
    row = conn.execute(
        "SELECT wasm_binary FROM functions WHERE id = %s AND revision = %s", (function_id, revision)
    ).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


# Backstops whatever a runner lets through: what one execution may store.
MAX_LOG_CHARS = MAX_LOG_BYTES
MAX_ERROR_CHARS = 8 * 1024
CANCELLED_MESSAGE = "cancelled by request (POST /executions/{id}/cancel)"


def _text(value: str | None, limit: int, marker: str) -> str | None:
    if not value:
        return value
    # PostgreSQL text cannot hold NUL; a guest may print or throw one.
    value = value.replace("\x00", "\\0")
    return value if len(value) <= limit else value[:limit] + marker


# A cancel requested while the run was in flight wins over how the sandbox ended. The slot this
# connection holds is released in the same round trip.
_FINISH = f"""
WITH u AS (
    UPDATE executions SET
        status = CASE WHEN cancel_requested_at IS NULL THEN %(status)s ELSE 'CANCELLED' END,
        output = CASE WHEN cancel_requested_at IS NULL THEN %(output)s::jsonb END,
        error_message = CASE WHEN cancel_requested_at IS NULL THEN %(error)s ELSE %(cancelled)s END,
        logs = %(logs)s, metrics = %(metrics)s, completed_at = clock_timestamp()
    WHERE id = %(id)s AND status = 'RUNNING' {{created_at}}
    RETURNING {COLUMNS}
), {execution_ended_ctes("u")[0]}
SELECT u.*, pg_advisory_unlock_all(), {_ENDED_SENT} AS ended_event_sent,
       %(durable)s OR set_config('synchronous_commit', 'off', true) IS NOT NULL AS flushed
FROM (SELECT 1) one LEFT JOIN u ON true
"""

_FINISH_IN_DAY = _FINISH.replace("{created_at}", "AND created_at = %(created_at)s")
_FINISH_ANY_DAY = _FINISH.replace("{created_at}", "")


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
    created_at: Any = None,
) -> dict[str, Any] | None:
    """Record how the run ended (COMPLETED, FAILED, TIMEOUT or CANCELLED) and free its slot.

    None when the execution is gone (its function was deleted) or no longer RUNNING.
    `durable=False` (queued runs: nobody waits on the answer) commits without waiting for the
    WAL flush; a database crash right after can lose the end of the last ~200 ms of runs, which
    the sweep then reports as lost (FAILED, never run twice). `created_at` (the execution's, when
    known) lets PostgreSQL touch only its day partition.
    """
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            _FINISH_IN_DAY if created_at is not None else _FINISH_ANY_DAY,
            {
                "status": status,
                "output": output_json,
                "error": _text(error_message, MAX_ERROR_CHARS, "…[message truncated]"),
                "cancelled": CANCELLED_MESSAGE,
                "logs": _text(logs, MAX_LOG_CHARS, TRUNCATED_MARKER) or None,
                "metrics": Jsonb(metrics),
                "id": execution_id,
                "durable": durable,
                "created_at": created_at,
            },
        )
        .fetchone()
    )
    return row if row["id"] is not None else None


_FAIL_PENDING = f"""
WITH u AS (
    UPDATE executions SET status = 'FAILED', error_message = %s, completed_at = clock_timestamp()
    WHERE id = %s AND status = 'PENDING' RETURNING {COLUMNS}
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


_CANCEL = f"""
WITH c AS (
UPDATE executions SET
    status = CASE WHEN status = 'PENDING' THEN 'CANCELLED' ELSE status END,
    error_message = CASE WHEN status = 'PENDING' THEN %(message)s ELSE error_message END,
    completed_at = CASE WHEN status = 'PENDING' THEN clock_timestamp() ELSE completed_at END,
    cancel_requested_at = COALESCE(cancel_requested_at, clock_timestamp())
WHERE id = %(id)s AND tenant_id = %(tenant)s AND status IN ('PENDING', 'RUNNING')
RETURNING {COLUMNS}
), cancelled AS (SELECT * FROM c WHERE status = 'CANCELLED'), {execution_ended_ctes("cancelled")[0]}
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


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, execution_id: uuid.UUID) -> dict[str, Any] | None:
    """One execution of the tenant, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM executions WHERE id = %s AND tenant_id = %s", (execution_id, tenant_id)
        )
        .fetchone()
    )


def list_for_function(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    trigger_type: str | None = None,
) -> list[dict[str, Any]]:
    """A function's executions, newest first, optionally of one status and trigger type."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM executions WHERE function_id = %s AND tenant_id = %s "
            "AND (%s::text IS NULL OR status = %s) AND (%s::text IS NULL OR trigger_type = %s) "
            "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            (function_id, tenant_id, status, status, trigger_type, trigger_type, limit, offset),
        )
        .fetchall()
    )


# A RUNNING execution is lost when the process running it died: its slot lock is free (the
# session that held it ended), or, for rows without a slot, it outlived its time limit by far.
_FAIL_LOST = f"""
WITH lost AS (
UPDATE executions e
SET status = 'FAILED', completed_at = clock_timestamp(),
    error_message = 'the platform lost this execution: the process running it (executor or web '
                    'worker) stopped before recording how it ended; it was not run again because '
                    'a function may have side effects; run it again if that is safe'
FROM functions f
WHERE f.id = e.function_id AND e.status = 'RUNNING'
  AND CASE WHEN e.slot IS NULL
           THEN e.started_at < now() - make_interval(secs => {_TIME_LIMIT_S} + %(grace_s)s)
           ELSE NOT EXISTS (
               SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.objsubid = 2
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND l.classid::bigint = (hashtext(e.function_id::text)::bigint & 4294967295)
                 AND l.objid::bigint = e.slot AND l.granted)
      END
RETURNING e.id, e.function_id, e.tenant_id, e.status, e.trigger_type, e.trigger_data, e.completed_at,
          e.error_message, e.metrics
), {execution_ended_ctes("lost")[0]}
SELECT id, function_id, {_ENDED_SENT} FROM lost
"""


def fail_lost(conn: psycopg.Connection) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Mark RUNNING executions whose process died FAILED; returns (id, functionId)s."""
    rows = conn.execute(
        _FAIL_LOST, {"default_time_ms": DEFAULTS["maxExecutionTimeMs"], "grace_s": LOST_AFTER_GRACE_S}
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def release_idempotency_keys(conn: psycopg.Connection, older_than_s: int = 24 * 3600) -> int:
    """Forget idempotency keys older than their 24 h window, so a key may be used again."""
    return conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => %s)", (older_than_s,)
    ).rowcount
