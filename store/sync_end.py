"""How a synchronous execution ends: one cheaper statement than `attempts.finish`.

A sync execute or an HTTP trigger never retries (it has no retry policy: the caller is waiting
and decides), so its end needs neither the retry decision nor the next-attempt CTEs of
`store/attempts.py`. The statement records the end, publishes the `jsruntime.execution.*` event,
frees the slot and, when the request is audited, writes its audit line, all in one round trip
and one commit (the WAL flush the caller's answer waits for).
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.statuses import ExecutionStatus
from events.domain import execution_ended_ctes
from store import day_partition
from store.attempts import end_params
from store.audit import AuditLine, audit_cte, audit_params
from store.executions import COLUMNS

_ENDED, _ENDED_SENT = execution_ended_ctes("u")
# A cancel requested while the run was in flight wins over how the sandbox ended.
_FINISH = f"""
WITH u AS (
    UPDATE executions x SET
        status = CASE WHEN x.cancel_requested_at IS NULL THEN %(status)s ELSE '{ExecutionStatus.CANCELLED}'
            END,
        output = CASE WHEN x.cancel_requested_at IS NULL THEN %(output)s::jsonb END,
        error_message = CASE WHEN x.cancel_requested_at IS NULL THEN %(error)s ELSE %(cancelled)s END,
        logs = %(logs)s, metrics = %(metrics)s, completed_at = clock_timestamp(), retried = false
    WHERE x.id = %(id)s AND x.status = '{ExecutionStatus.RUNNING}' {{created_at}}
    RETURNING {COLUMNS}
), {_ENDED}, {audit_cte("u")}
SELECT u.*, pg_advisory_unlock_all(), {_ENDED_SENT} AS ended_event_sent, NULL::uuid AS next_attempt_id,
       (SELECT count(*) FROM audited) AS audited
FROM (SELECT 1) one LEFT JOIN u ON true
"""
_FINISH_IN_DAY = _FINISH.replace("{created_at}", "AND x.created_at = %(created_at)s")
_FINISH_ANY_DAY = _FINISH.replace("{created_at}", "")


# The end of a sync run names its day's partition (store/day_partition.py): its run is seconds
# old, so the day is still there.
@lru_cache(maxsize=4)
def _finish_on(table: str) -> str:
    return _FINISH_IN_DAY.replace("UPDATE executions x", f"UPDATE {table} x", 1)


def finish_sync(
    conn: psycopg.Connection,
    execution_id: uuid.UUID,
    *,
    status: str,
    output_json: str | None,
    error_message: str | None,
    logs: str | None,
    metrics: dict[str, Any],
    created_at: Any = None,
    audit: AuditLine | None = None,
) -> dict[str, Any] | None:
    """Record how a sync run ended and free its slot (and write `audit` when the end is recorded:
    the row's `audited` is 1 then). None when the execution is gone or no longer RUNNING."""
    params = end_params(
        execution_id,
        status=status,
        output_json=output_json,
        error_message=error_message,
        logs=logs,
        metrics=metrics,
        created_at=created_at,
    ) | audit_params(audit)
    cursor = conn.cursor(row_factory=dict_row)
    if created_at is None:
        row = cursor.execute(_FINISH_ANY_DAY, params).fetchone()
    else:
        row = day_partition.on_day(
            conn, created_at, lambda table: cursor.execute(_finish_on(table), params).fetchone()
        )
    return row if row["id"] is not None else None
