"""Named workflows: a canvas stored under a name, versioned, run by name (API, cron, events)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from store import workflow_definitions as store
from store import workflows as runs_store
from workflows import canvas, runs
from workflows.canvas import ON_FAILURE, ROOT, CanvasError


class WorkflowNotFound(LookupError):
    """No workflow of that name for this tenant."""


def check(conn: psycopg.Connection, tenant_id: uuid.UUID, steps: Any, on_failure: Any) -> None:
    """The canvas is well formed and names functions of the tenant (they may still be compiling:
    a run checks READY and ACTIVE when it starts)."""
    refs = canvas.function_refs(steps, ROOT) + (
        canvas.function_refs(on_failure, ON_FAILURE) if on_failure is not None else []
    )
    found = runs_store.functions_by_ref(conn, tenant_id, sorted({ref for _, ref in refs}))
    known = {fn["id"] for fn in found} | {fn["name"] for fn in found}
    for pointer, ref in refs:
        if ref not in known and _normal_id(ref) not in known:
            raise CanvasError(f"{pointer}/function", f"function {ref!r} not found")


def put(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    name: str,
    values: dict[str, Any],
    *,
    actor: str | None = None,
    change: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or change a workflow; returns (workflow, created). A new canvas is a new version."""
    check(conn, tenant_id, values["steps"], values.get("on_failure"))
    with conn.transaction():
        current = store.get(conn, tenant_id, name, lock=True)
        if current is None:
            row = store.insert(conn, tenant_id, name, values)
            store.insert_version(conn, row, actor=actor, change=change)
            return row, True
        changed = current["steps"] != values["steps"] or current["on_failure"] != values.get("on_failure")
        row = store.update(conn, current["id"], values, new_version=changed)
        if changed:
            store.insert_version(conn, row, actor=actor, change=change)
        return row, False


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str) -> dict[str, Any]:
    """The workflow, or WorkflowNotFound."""
    row = store.get(conn, tenant_id, name)
    if row is None:
        raise WorkflowNotFound(f"workflow {name!r} not found")
    return row


def run(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    name: str,
    input_value: Any,
    *,
    trigger_type: str = "API",
    trigger_data: Any = None,
    dedup_key: str | None = None,
) -> uuid.UUID | None:
    """Start a run of the workflow's current version (CanvasError when a step cannot run now)."""
    return start(
        conn,
        get(conn, tenant_id, name),
        input_value,
        trigger_type=trigger_type,
        trigger_data=trigger_data,
        dedup_key=dedup_key,
    )


def start(conn, workflow: dict[str, Any], input_value: Any, **trigger: Any) -> uuid.UUID | None:
    """Start a run of a workflow row's current version; it records the name and version."""
    return runs.submit(
        conn,
        workflow["tenant_id"],
        steps=workflow["steps"],
        on_failure=workflow["on_failure"],
        input_value=input_value,
        workflow_name=workflow["name"],
        workflow_version=workflow["version"],
        **trigger,
    )


def _normal_id(ref: str) -> str | None:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        return None
