"""The hand-over: what follows a workflow step's end, written in the transaction that records it.

`step_ended` is the one function every path that ends a step execution calls inside its own
transaction (the executor's `finish`, `fail_pending`, the lost-execution sweep, a cancel): it
queues the next step(s), counts a group's join down, or records the run's end. Every hand-over
of a run first locks the run row, so two members of a group finishing at once are counted one
after the other and exactly one of them takes the join to zero and queues what follows. A
process killed anywhere leaves either the old state (the step still RUNNING: the sweep fails
it and hands over then) or the new one.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any, NamedTuple

import psycopg

from contracts.statuses import ExecutionStatus
from store import executions as executions_store
from store import workflows as store
from workflows import canvas
from workflows.canvas import ON_FAILURE, ROOT, Node


class Join(NamedTuple):
    """A group's join that a member's end counts down (see `member_join`)."""

    run_id: uuid.UUID
    group: str  # the group's path
    statuses: tuple[str, ...]  # the run statuses in which the member hands over


_TREES: OrderedDict[uuid.UUID, dict[str, Node]] = OrderedDict()
_TREES_LOCK = threading.Lock()
_TREES_MAX = 256


def step_ended(conn: psycopg.Connection, row: dict[str, Any], *, retried: bool = False) -> None:
    """Hand over after a step execution ended (row: status, output, error_message,
    workflow_run_id, step_path). Call inside the transaction that recorded the end.

    `retried=True` when the step's execution ended FAILED/TIMEOUT and its retry policy queued
    another attempt in the same transaction (issue 26): the step goes on with that attempt, so
    the run neither advances nor fails here. This is the only place a retry is looked at.
    """
    run_id = row.get("workflow_run_id")
    if run_id is None or retried:
        return
    path = row["step_path"]
    in_on_failure = _in_on_failure(path)
    statuses = _statuses(in_on_failure)
    tree = _tree(conn, run_id)
    parent = _group_of(tree, path)
    if row["status"] == ExecutionStatus.COMPLETED and parent is not None:
        # A group member, the common case: lock the run and count the join down in one statement.
        run = store.count_down(conn, run_id, parent.path, statuses)
        if run is not None and run["left"] == 0:
            _completed(conn, run, tree, parent.path, _group_output(conn, run, tree, parent.path))
        return
    run = store.lock_run(conn, run_id)
    if run is None or run["status"] not in statuses:
        return  # the run already ended (cancelled, or failed by another step): nothing follows
    if row["status"] == ExecutionStatus.COMPLETED:
        _completed(conn, run, tree, path, row["output"])
    elif in_on_failure:
        return  # the onFailure node failed: the run stays FAILED with the step's error
    elif row["status"] == ExecutionStatus.CANCELLED:
        _stop(conn, run, tree, ExecutionStatus.CANCELLED, path, f"step {path} was cancelled")
    else:
        error = f"step {path} ended {row['status']}: {row['error_message']}"
        _stop(conn, run, tree, ExecutionStatus.FAILED, path, error, failure_input=row["error_message"])


def member_join(conn: psycopg.Connection, run_id: uuid.UUID, path: str) -> Join | None:
    """The join the step at `path` of run `run_id` counts down when it ends COMPLETED, or None
    when it is no group's member (a chain's step, a chord's `then`, ...).

    Its hand-over is then the count-down alone unless it takes the join to zero (or the run
    ended meanwhile): the executor records such an end with the count-down in one statement
    (store/end_then_start.py) and falls back to `step_ended` for those two cases."""
    group = _group_of(_tree(conn, run_id), path)
    if group is None:
        return None
    return Join(run_id, group.path, _statuses(_in_on_failure(path)))


def start(
    conn: psycopg.Connection, run: dict[str, Any], tree: dict[str, Node], path: str, value: Any
) -> None:
    """Queue the first step(s) of the node at `path` with `value` as input (and open its joins)."""
    steps, joins = canvas.starts(tree, path, value)
    if joins:
        store.open_joins(conn, run["id"], joins)
    queued = store.queue_steps(
        conn,
        run["tenant_id"],
        run["id"],
        [
            {
                "path": node.path,
                "function_id": node.function,
                "input": step_input,
                "trigger_data": _trigger(run["id"], node),
            }
            for node, step_input in steps
        ],
    )
    missing = [node.path for node, _ in steps if node.path not in queued]
    if missing and not path.startswith(ON_FAILURE):
        _stop(
            conn,
            run,
            tree,
            ExecutionStatus.FAILED,
            missing[0],
            f"step {missing[0]}: its function was deleted",
        )


def cancel(conn: psycopg.Connection, run: dict[str, Any]) -> None:
    """End an active run CANCELLED (its row locked by the caller) and stop its steps."""
    store.end_run(
        conn,
        run["id"],
        ExecutionStatus.CANCELLED,
        error="cancelled by request (POST /workflows/runs/{id}/cancel)",
    )
    executions_store.cancel_run_steps(conn, run["id"], f"cancelled: workflow run {run['id']} was cancelled")


def tree_of(steps: Any, on_failure: Any) -> dict[str, Node]:
    """The index of a run's canvas, its onFailure node included."""
    tree = canvas.index(steps)
    if on_failure is not None:
        canvas.index(on_failure, ON_FAILURE, None, tree)
    return tree


def _completed(conn, run: dict[str, Any], tree: dict[str, Node], path: str, output: Any) -> None:
    """Walk up from a finished node to what follows it."""
    while True:
        node = tree[path]
        parent = tree.get(node.parent) if node.parent else None
        if parent is None:
            if path == ROOT:
                store.end_run(conn, run["id"], ExecutionStatus.COMPLETED, output=output)
            return  # the onFailure node finished: the run stays FAILED
        if parent.kind == "chain":
            i = parent.children.index(path)
            if i + 1 < len(parent.children):
                start(conn, run, tree, parent.children[i + 1], output)
                return
        elif parent.kind == "group":
            counted = store.count_down(conn, run["id"], parent.path, (run["status"],))
            if counted is None or counted["left"] > 0:
                return
            output = _group_output(conn, run, tree, parent.path)
        elif parent.kind == "chord" and path == parent.children[0]:
            start(conn, run, tree, parent.children[1], output)
            return
        path = parent.path


def _in_on_failure(path: str) -> bool:
    return path == ON_FAILURE or path.startswith(ON_FAILURE + "/")


def _statuses(in_on_failure: bool) -> tuple[str, ...]:
    """The run statuses in which a step hands over: while its onFailure node runs, a run is
    FAILED, and the node's steps still hand over among themselves."""
    return (*store.ACTIVE, ExecutionStatus.FAILED) if in_on_failure else store.ACTIVE


def _group_of(tree: dict[str, Node], path: str) -> Node | None:
    """The group whose member the node at `path` is, or None."""
    parent = tree.get(tree[path].parent) if tree[path].parent else None
    return parent if parent is not None and parent.kind == "group" else None


def _group_output(conn, run, tree: dict[str, Node], group: str) -> Any:
    """A finished group's output: its members' outputs, in order."""
    return canvas.output_of(tree, group, store.step_outputs(conn, run["id"], group))


def _stop(conn, run, tree, status: str, path: str, error: str, *, failure_input: str | None = None) -> None:
    """End the run FAILED or CANCELLED because of the step at `path`: cancel the other steps and
    queue the onFailure node, if any, with {runId, failedStep, error}."""
    if not store.end_run(conn, run["id"], status, error=error, failed_step=path):
        return
    executions_store.cancel_run_steps(conn, run["id"], f"cancelled: workflow run {run['id']} {error}")
    if status == ExecutionStatus.FAILED and ON_FAILURE in tree:
        value = {"runId": str(run["id"]), "failedStep": path, "error": failure_input or error}
        start(conn, run, tree, ON_FAILURE, value)


def _trigger(run_id: uuid.UUID, node: Node) -> dict[str, Any]:
    """What the step sees as context.trigger (besides type WORKFLOW)."""
    trigger: dict[str, Any] = {"runId": str(run_id), "stepPath": node.path}
    if node.retry_policy is not None:
        trigger["retryPolicy"] = node.retry_policy
    return trigger


def _tree(conn: psycopg.Connection, run_id: uuid.UUID) -> dict[str, Node]:
    """The run's canvas index: immutable per run, so kept in this process once read."""
    with _TREES_LOCK:
        tree = _TREES.get(run_id)
        if tree is not None:
            _TREES.move_to_end(run_id)
            return tree
    tree = tree_of(*store.canvas(conn, run_id))
    with _TREES_LOCK:
        _TREES[run_id] = tree
        while len(_TREES) > _TREES_MAX:
            _TREES.popitem(last=False)
    return tree
