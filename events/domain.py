"""pnil's own domain events (jsruntime.*), published in the transaction of the change they report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from contracts.statuses import ExecutionStatus
from events.names import PLATFORM_PREFIX
from events.publish import publish, publish_ctes

# The jsruntime.execution.* events are published by the very statements that record an execution
# RUNNING and its end (store/executions.py), from the rows they change: no extra round trip.
_EXECUTION_IDS = (
    "'executionId', id, 'scriptId', function_id, 'functionId', function_id, 'tenantId', tenant_id, "
    "'triggerType', trigger_type"
)
# How many event-triggered executions led to this one (0 unless an event triggered it, or a
# workflow run an event started).
_DEPTH = (
    "CASE WHEN trigger_type IN ('EVENT', 'WORKFLOW') "
    "THEN COALESCE((trigger_data->>'depth')::integer, 0) ELSE 0 END"
)
_STARTED_PAYLOAD = f"jsonb_build_object({_EXECUTION_IDS}, 'startedAt', started_at, 'timestamp', started_at)"
_ENDED_PAYLOAD = f"""jsonb_build_object({_EXECUTION_IDS}, 'timestamp', completed_at) || CASE status
    WHEN '{ExecutionStatus.COMPLETED}' THEN jsonb_build_object('completedAt', completed_at, 'durationMs',
        metrics->'durationMs')
    WHEN '{ExecutionStatus.FAILED}' THEN jsonb_build_object('failedAt', completed_at, 'error', error_message)
    WHEN '{ExecutionStatus.TIMEOUT}' THEN jsonb_build_object('timeoutAt', completed_at, 'durationMs',
        metrics->'durationMs',
                                           'error', error_message)
    ELSE jsonb_build_object('cancelledAt', completed_at) END"""


# pnil's execution events are the history the execution rows already keep: GET /events reads
# them from there (store/events.py), and the statements that change an execution write a row in
# `events` only for one that someone (an EVENT function or workflow) may receive, which the
# dispatcher then reads. An execution event's id is its execution's id with the UUID version
# nibble 8 (started) or 9 (ended): the same whether read or written, and never a stored event's
# random (version 4) id.
STARTED, ENDED = "started", "ended"
_NIBBLES = {STARTED: "8", ENDED: "9"}
EXECUTION_ENDED_TYPES = tuple(
    f"{PLATFORM_PREFIX}execution.{status.lower()}"
    for status in (
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMEOUT,
        ExecutionStatus.CANCELLED,
    )
)
EXECUTION_STARTED_TYPE = f"{PLATFORM_PREFIX}execution.started"
# An ended execution's event type from its status, in SQL.
ENDED_TYPE_SQL = f"'{PLATFORM_PREFIX}execution.' || lower(status)"


def execution_event_id_sql(execution_id_sql: str, kind: str) -> str:
    """SQL of the id of an execution's `kind` event (STARTED or ENDED)."""
    return f"overlay({execution_id_sql}::text placing '{_NIBBLES[kind]}' from 15 for 1)::uuid"


def execution_of_event(event_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """(execution id, STARTED or ENDED) of an execution event's id; None for any other id."""
    digits = event_id.hex
    kind = {nibble: kind for kind, nibble in _NIBBLES.items()}.get(digits[12])
    return None if kind is None else (uuid.UUID(digits[:12] + "4" + digits[13:]), kind)


def execution_started_ctes(source: str) -> tuple[str, str]:
    """CTEs publishing jsruntime.execution.started for the rows of CTE `source` (see publish_ctes)."""
    return publish_ctes(
        "started_event",
        source,
        type_sql=f"'{EXECUTION_STARTED_TYPE}'",
        payload_sql=_STARTED_PAYLOAD,
        depth_sql=_DEPTH,
        execution_sql="id",
        id_sql=execution_event_id_sql("id", STARTED),
        at_sql="started_at",
        only_subscribed=True,
    )


def execution_ended_ctes(source: str) -> tuple[str, str]:
    """CTEs publishing jsruntime.execution.completed|failed|timeout|cancelled for ended rows of `source`."""
    return publish_ctes(
        "ended_event",
        source,
        type_sql=ENDED_TYPE_SQL,
        payload_sql=_ENDED_PAYLOAD,
        depth_sql=_DEPTH,
        execution_sql="id",
        id_sql=execution_event_id_sql("id", ENDED),
        at_sql="completed_at",
        only_subscribed=True,
    )


def execution_events_sql(kind: str) -> str:
    """SELECT of the tenant's (%(tenant)s) execution events of `kind` read from the execution rows,
    with a stored event's columns; the caller adds conditions on the `executions` row (`AND ...`)."""
    if kind == STARTED:
        type_sql, payload_sql, at = f"'{EXECUTION_STARTED_TYPE}'::text", _STARTED_PAYLOAD, "started_at"
    else:
        type_sql, payload_sql, at = ENDED_TYPE_SQL, _ENDED_PAYLOAD, "completed_at"
    return f"""SELECT {execution_event_id_sql("id", kind)} AS id, tenant_id, {type_sql} AS type,
    {payload_sql} AS payload, {_DEPTH} AS depth, id AS source_execution_id, {at} AS created_at,
    NULL::timestamptz AS dispatched_at, 0 AS executions_started, false AS suppressed
FROM executions WHERE tenant_id = %(tenant)s AND {at} IS NOT NULL"""


# From the next attempt's row (store/attempts.py): the attempt that failed is its retry_of.
_RETRYING_PAYLOAD = """jsonb_build_object('executionId', retry_of, 'scriptId', function_id,
    'functionId', function_id, 'tenantId', tenant_id, 'triggerType', trigger_type, 'attempt', attempt - 1,
    'nextAttemptId', id, 'nextAttempt', attempt, 'scheduledFor', scheduled_for, 'timestamp', created_at)"""


def execution_retrying_ctes(source: str) -> tuple[str, str]:
    """CTEs publishing jsruntime.execution.retrying for the next attempts in CTE `source`."""
    return publish_ctes(
        "retrying_event",
        source,
        type_sql="'jsruntime.execution.retrying'",
        payload_sql=_RETRYING_PAYLOAD,
        depth_sql=_DEPTH,
        execution_sql="retry_of",
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else _now()


def _script(row: dict[str, Any]) -> dict[str, str]:
    return {"scriptId": str(row["id"]), "functionId": str(row["id"]), "tenantId": str(row["tenant_id"])}


def script_created(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """jsruntime.script.created {scriptId, tenantId, name, type, createdBy, createdAt}."""
    payload = {
        **_script(row),
        "name": row["name"],
        "type": row["trigger_type"],
        "createdBy": row.get("created_by"),
        "createdAt": _iso(row.get("created_at")),
        "timestamp": _now(),
    }
    publish(conn, row["tenant_id"], "jsruntime.script.created", payload)


def script_updated(conn: psycopg.Connection, row: dict[str, Any], actor: str) -> None:
    """jsruntime.script.updated {scriptId, tenantId, updatedBy, updatedAt, versionNumber}."""
    payload = {
        **_script(row),
        "updatedBy": actor,
        "updatedAt": _iso(row.get("updated_at")),
        "versionNumber": row["version"],
        "timestamp": _now(),
    }
    publish(conn, row["tenant_id"], "jsruntime.script.updated", payload)


def script_status_changed(conn: psycopg.Connection, row: dict[str, Any], old: str, actor: str) -> None:
    """jsruntime.script.status_changed {scriptId, tenantId, oldStatus, newStatus, changedBy, changedAt}."""
    payload = {
        **_script(row),
        "oldStatus": old,
        "newStatus": row["state"],
        "changedBy": actor,
        "changedAt": _now(),
        "timestamp": _now(),
    }
    publish(conn, row["tenant_id"], "jsruntime.script.status_changed", payload)


def script_deleted(
    conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, actor: str
) -> None:
    """jsruntime.script.deleted {scriptId, tenantId, deletedBy, deletedAt}."""
    payload = {
        "scriptId": str(function_id),
        "functionId": str(function_id),
        "tenantId": str(tenant_id),
        "deletedBy": actor,
        "deletedAt": _now(),
        "timestamp": _now(),
    }
    publish(conn, tenant_id, "jsruntime.script.deleted", payload)
