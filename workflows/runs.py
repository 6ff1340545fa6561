"""Workflow runs: submit a canvas (validated, functions resolved, first steps queued in one
transaction), read a run with its tree, list runs, cancel one."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from contracts.statuses import ExecutionStatus, is_runnable
from store import workflows as store
from workflows import canvas, handover
from workflows.canvas import ON_FAILURE, ROOT, CanvasError


class RunNotFound(LookupError):
    """No such run for this tenant."""


class RunFinished(ValueError):
    """The run already ended; nothing to cancel."""


def validate(conn: psycopg.Connection, tenant_id: uuid.UUID, steps: Any, on_failure: Any) -> tuple[Any, Any]:
    """The canvas with functions resolved to ids; CanvasError (with the offending node's JSON
    pointer) for a malformed node or a function that is unknown to the tenant or not runnable."""
    refs = canvas.function_refs(steps, ROOT)
    if on_failure is not None:
        refs += canvas.function_refs(on_failure, ON_FAILURE)
    if len(refs) > canvas.MAX_STEPS:
        raise CanvasError(refs[canvas.MAX_STEPS][0], f"a run has at most {canvas.MAX_STEPS} steps")
    found = store.functions_by_ref(conn, tenant_id, sorted({ref for _, ref in refs}))
    by_ref = {fn["id"]: fn for fn in found} | {fn["name"]: fn for fn in found}
    ids = {}
    for pointer, ref in refs:
        fn = by_ref.get(_normal_id(ref)) or by_ref.get(ref)
        if fn is None:
            raise CanvasError(f"{pointer}/function", f"function {ref!r} not found")
        if not is_runnable(fn):
            raise CanvasError(
                f"{pointer}/function",
                f"function {fn['name']!r} cannot run (status {fn['status']}, state {fn['state']}); "
                "a step's function must be READY and ACTIVE when the run is submitted",
            )
        ids[ref] = fn["id"]
    resolved_failure = canvas.resolve(on_failure, ids) if on_failure is not None else None
    return canvas.resolve(steps, ids), resolved_failure


def submit(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    *,
    steps: Any,
    input_value: Any,
    on_failure: Any = None,
    workflow_name: str | None = None,
    workflow_version: int | None = None,
    trigger_type: str = "API",
    trigger_data: Any = None,
    dedup_key: str | None = None,
) -> uuid.UUID | None:
    """Validate and start a run: its row and its first step(s) commit together (in the caller's
    transaction when there is one). None when `dedup_key` already started a run."""
    resolved, resolved_failure = validate(conn, tenant_id, steps, on_failure)
    with conn.transaction():
        run_id = store.insert_run(
            conn,
            tenant_id,
            steps=resolved,
            on_failure=resolved_failure,
            input_value=input_value,
            workflow_name=workflow_name,
            workflow_version=workflow_version,
            trigger_type=trigger_type,
            trigger_data=trigger_data,
            dedup_key=dedup_key,
        )
        if run_id is None:
            return None
        run = {"id": run_id, "tenant_id": tenant_id, "status": ExecutionStatus.PENDING}
        handover.start(conn, run, handover.tree_of(resolved, resolved_failure), ROOT, input_value)
    return run_id


def cancel(conn: psycopg.Connection, tenant_id: uuid.UUID, run_id: uuid.UUID) -> None:
    """Cancel an active run: PENDING steps at once, RUNNING ones through the executions' cancel."""
    with conn.transaction():
        run = store.lock_run(conn, run_id)
        if run is None or run["tenant_id"] != tenant_id:
            raise RunNotFound(f"workflow run {run_id} not found")
        if run["status"] not in store.ACTIVE:
            raise RunFinished(f"workflow run {run_id} already ended ({run['status']}); nothing to cancel")
        handover.cancel(conn, run)


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
    """The run with its tree: every node, and for each step its execution, status, attempts, duration."""
    row = store.get(conn, tenant_id, run_id)
    if row is None:
        raise RunNotFound(f"workflow run {run_id} not found")
    tree = handover.tree_of(row["steps"], row["on_failure"])
    executions = store.steps(conn, run_id)
    names = store.function_names(conn, tenant_id, sorted({n.function for n in tree.values() if n.function}))
    ended = row["status"] in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
    row["tree"] = _node_json(tree, ROOT, executions, names, ended)
    if ON_FAILURE in tree:
        row["on_failure_tree"] = _node_json(tree, ON_FAILURE, executions, names, False)
    return row


def _node_json(tree, path: str, executions: dict, names: dict, ended: bool) -> dict[str, Any]:
    node = tree[path]
    if node.kind != "function":
        children = [_node_json(tree, child, executions, names, ended) for child in node.children]
        if node.kind == "chord":
            return {"path": path, "kind": "chord", "group": children[0], "then": children[1]}
        return {"path": path, "kind": node.kind, "steps": children}
    execution = executions.get(path)
    duration = None
    if execution is not None and execution["metrics"] and "durationMs" in execution["metrics"]:
        duration = execution["metrics"]["durationMs"]
    return {
        "path": path,
        "kind": "function",
        "functionId": node.function,
        "functionName": names.get(node.function),
        # A step never queued is WAITING while the run goes on, CANCELLED once it stopped.
        "status": execution["status"] if execution else (ExecutionStatus.CANCELLED if ended else "WAITING"),
        "executionId": str(execution["id"]) if execution else None,
        "attempts": execution["attempts"] if execution else 0,
        "durationMs": duration,
        "startedAt": _iso(execution["started_at"]) if execution else None,
        "completedAt": _iso(execution["completed_at"]) if execution else None,
    }


def _iso(value):
    return value.isoformat() if value is not None else None


def _normal_id(ref: str) -> str | None:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        return None
