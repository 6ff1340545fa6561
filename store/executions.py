"""SQL for executions; every read is scoped to a tenant."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from runner.contract import Limits, RunResult
from runner.logs import TRUNCATED_MARKER
from store.limits import DEFAULTS

COLUMNS = (
    "id, function_id, tenant_id, function_version, status, trigger_type, trigger_data, input, output, "
    "error_message, logs, metrics, created_at, started_at, completed_at"
)
# An execution RUNNING longer than its time limit plus this cannot still be running: the runner
# pool kills overruns after a second. Such a row was lost by a process that died.
LOST_AFTER_GRACE_S = 60
_TIME_LIMIT_S = "COALESCE((f.resource_limits->>'maxExecutionTimeMs')::bigint, %(default_time_ms)s) / 1000.0"
_RUNNABLE = """
SELECT id, tenant_id, language, status, state, revision, resource_limits,
       CASE WHEN revision = %(cached)s THEN NULL ELSE wasm_binary END AS wasm_binary
FROM functions f WHERE id = %(id)s AND tenant_id = %(tenant)s
"""


# One round trip for the hot path: read what running needs and, only when the function may run
# (READY and ACTIVE), insert the execution RUNNING.
# A row with a null execution_id means the function exists but may not run; the caller explains
# why from the function columns.
# The RUNNING insert commits without waiting for its WAL flush (synchronous_commit off for this
# transaction only): the `finish` update that ends every execution commits synchronously and
# its flush covers the insert, which precedes it in the WAL. A database crash in between can
# lose only the row of a run no client got an answer for; it saves one flush per execution.
_START_IF_RUNNABLE = f"""
WITH fn AS ({_RUNNABLE}),
ins AS (
    INSERT INTO executions (function_id, tenant_id, function_version, status, trigger_type,
                            trigger_data, input, started_at)
    SELECT fn.id, fn.tenant_id, fn.revision, 'RUNNING', %(trigger_type)s, %(trigger_data)s,
           %(input)s, clock_timestamp()
    FROM fn WHERE fn.status = 'READY' AND fn.state = 'ACTIVE'
        AND set_config('synchronous_commit', 'off', true) IS NOT NULL
    RETURNING id
)
SELECT fn.*, ins.id AS execution_id FROM fn LEFT JOIN ins ON true
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
) -> dict[str, Any] | None:
    """`runnable` and, when READY and ACTIVE, `start` in one statement; None for an unknown function."""
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
            },
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
MAX_LOG_CHARS = Limits().max_log_bytes
MAX_ERROR_CHARS = 8 * 1024


def _text(value: str | None, limit: int, marker: str) -> str | None:
    if not value:
        return value
    # PostgreSQL text cannot hold NUL; a guest may print or throw one.
    value = value.replace("\x00", "\\0")
    return value if len(value) <= limit else value[:limit] + marker


def finish(conn: psycopg.Connection, execution_id: uuid.UUID, result: RunResult) -> dict[str, Any]:
    """Record how the run ended: COMPLETED with output, or FAILED/TIMEOUT with errorMessage."""
    metrics = {"durationMs": round(result.duration_ms, 3), "memoryPeakBytes": result.memory_peak_bytes}
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "UPDATE executions SET status = %s, output = %s::jsonb, error_message = %s, logs = %s, "
            f"metrics = %s, completed_at = clock_timestamp() WHERE id = %s RETURNING {COLUMNS}",
            (
                result.status.value,
                result.output_json,
                _text(result.error_message, MAX_ERROR_CHARS, "…[message truncated]"),
                _text(result.logs, MAX_LOG_CHARS, TRUNCATED_MARKER) or None,
                Jsonb(metrics),
                execution_id,
            ),
        )
        .fetchone()
    )


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
    conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A function's executions, newest first."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM executions WHERE function_id = %s AND tenant_id = %s "
            "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            (function_id, tenant_id, limit, offset),
        )
        .fetchall()
    )


_FAIL_LOST = f"""
UPDATE executions e
SET status = 'FAILED', completed_at = clock_timestamp(),
    error_message = 'the platform lost this execution: the process running it stopped before '
                    'recording how it ended; run it again'
FROM functions f
WHERE f.id = e.function_id AND e.status = 'RUNNING'
  AND e.started_at < now() - make_interval(secs => {_TIME_LIMIT_S} + %(grace_s)s)
RETURNING e.id, e.function_id
"""


def fail_lost(conn: psycopg.Connection) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Mark RUNNING executions that outlived their time limit FAILED; returns (id, functionId)s."""
    return conn.execute(
        _FAIL_LOST, {"default_time_ms": DEFAULTS["maxExecutionTimeMs"], "grace_s": LOST_AFTER_GRACE_S}
    ).fetchall()
