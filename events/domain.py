"""pnil's own domain events (jsruntime.*), published in the transaction of the change they report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from events.publish import publish
from executions import hooks

# How an execution ended -> (event type, the payload's time field).
_ENDINGS = {
    "COMPLETED": ("jsruntime.execution.completed", "completedAt"),
    "FAILED": ("jsruntime.execution.failed", "failedAt"),
    "TIMEOUT": ("jsruntime.execution.timeout", "timeoutAt"),
    "CANCELLED": ("jsruntime.execution.cancelled", "cancelledAt"),
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else _now()


def execution_depth(row: dict[str, Any]) -> int:
    """How many event-triggered executions led to this one (0 unless an event triggered it)."""
    data = row.get("trigger_data")
    if row.get("trigger_type") == "EVENT" and isinstance(data, dict):
        return int(data.get("depth") or 0)
    return 0


def _ids(row: dict[str, Any]) -> dict[str, str]:
    return {
        "executionId": str(row["id"]),
        "scriptId": str(row["function_id"]),
        "functionId": str(row["function_id"]),
        "tenantId": str(row["tenant_id"]),
    }


@hooks.on_started
def execution_started(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """jsruntime.execution.started {executionId, scriptId, tenantId, triggerType, startedAt}."""
    payload = {**_ids(row), "triggerType": row["trigger_type"], "startedAt": _now(), "timestamp": _now()}
    publish(
        conn,
        row["tenant_id"],
        "jsruntime.execution.started",
        payload,
        depth=execution_depth(row),
        source_execution_id=row["id"],
    )


@hooks.on_finished
def execution_finished(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """jsruntime.execution.completed|failed|timeout|cancelled with the seed's fields."""
    kind, time_field = _ENDINGS[row["status"]]
    ended = _iso(row.get("completed_at"))
    payload = {**_ids(row), time_field: ended, "timestamp": ended, "triggerType": row["trigger_type"]}
    metrics = row.get("metrics") or {}
    if row["status"] in ("COMPLETED", "TIMEOUT") and "durationMs" in metrics:
        payload["durationMs"] = metrics["durationMs"]
    if row["status"] in ("FAILED", "TIMEOUT"):
        payload["error"] = row.get("error_message")
    publish(conn, row["tenant_id"], kind, payload, depth=execution_depth(row), source_execution_id=row["id"])


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
        "versionNumber": row["revision"],
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
