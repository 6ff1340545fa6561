"""Workflows from Python: builders for the canvas JSON, runs with a handle, named workflows.

from pnil_client import Client, chain, group, chord, step
run = client.workflows.run(chain("fetch", group("resize", "thumb"), "store"), {"url": "..."})
print(run.result().output)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pnil_client.errors import ExecutionTimeout
from pnil_client.models import Model
from pnil_client.transport import Transport, segment

Node = dict[str, Any]


def step(function: str, input: dict | None = None, retry_policy: dict | None = None) -> Node:  # noqa: A002
    """One step: a function by name or id, optionally with a fixed input."""
    node: Node = {"function": function}
    if input is not None:
        node["input"] = input
    if retry_policy is not None:
        node["retryPolicy"] = retry_policy
    return node


def _node(value: str | Node) -> Node:
    return step(value) if isinstance(value, str) else value


def chain(*nodes: str | Node) -> Node:
    """Nodes in order, each getting the previous one's output."""
    return {"chain": [_node(n) for n in nodes]}


def group(*nodes: str | Node) -> Node:
    """Nodes at once with the same input; the output is the list of theirs, in order."""
    return {"group": [_node(n) for n in nodes]}


def chord(members: list[str | Node] | Node, then: str | Node) -> Node:
    """A group whose output list is the input of `then`."""
    listed = members["group"] if isinstance(members, dict) and "group" in members else members
    return {"chord": {"group": [_node(n) for n in listed], "then": _node(then)}}


@dataclass(frozen=True)
class WorkflowRun(Model):
    id: str = ""
    status: str = ""  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED
    input: Any = None
    output: Any = None
    error: str | None = None
    failed_step: str | None = None
    workflow_name: str | None = None
    workflow_version: int | None = None
    trigger_type: str | None = None
    tree: Any = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("COMPLETED", "FAILED", "CANCELLED")


@dataclass(frozen=True)
class Workflow(Model):
    id: str = ""
    name: str = ""
    version: int = 0
    steps: Any = None
    on_failure: Any = None
    type: str = ""
    cron_expression: str | None = None
    event_types: list[str] | None = None
    state: str = ""


class WorkflowRunHandle:
    """A started run: `.result(timeout)` waits for its end; `.cancel()` stops it."""

    def __init__(self, workflows: Workflows, run: WorkflowRun) -> None:
        self._workflows = workflows
        self.run = run

    @property
    def id(self) -> str:
        return self.run.id

    def refresh(self) -> WorkflowRun:
        self.run = self._workflows.get(self.id)
        return self.run

    def result(self, timeout: float = 300.0, poll: float = 0.05) -> WorkflowRun:
        """The finished run (any end status); ExecutionTimeout if it did not end in time."""
        deadline = time.monotonic() + timeout
        delay = poll
        while not self.run.finished:
            if time.monotonic() > deadline:
                raise ExecutionTimeout(
                    f"workflow run {self.id} was still {self.run.status} after {timeout:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
            self.refresh()
        return self.run

    def cancel(self) -> WorkflowRun:
        self.run = self._workflows.cancel(self.id)
        return self.run


class Workflows:
    """`client.workflows`: runs of canvases and named workflows."""

    def __init__(self, http: Transport) -> None:
        self._http = http

    def run(
        self, steps: Node, input: dict | None = None, *, on_failure: Node | None = None
    ) -> WorkflowRunHandle:  # noqa: A002
        """Start a run of a canvas (POST /workflows/runs); returns its handle."""
        body: dict[str, Any] = {"input": input or {}, "steps": steps}
        if on_failure is not None:
            body["onFailure"] = on_failure
        return WorkflowRunHandle(
            self, WorkflowRun.from_json(self._http.request("POST", "/workflows/runs", json=body))
        )

    def get(self, run_id: str) -> WorkflowRun:
        return WorkflowRun.from_json(self._http.request("GET", f"/workflows/runs/{segment(run_id)}"))

    def list(self, status: str | None = None, *, limit: int = 100) -> list[WorkflowRun]:
        params = {"limit": limit, **({"status": status} if status else {})}
        return [WorkflowRun.from_json(r) for r in self._http.request("GET", "/workflows/runs", params=params)]

    def cancel(self, run_id: str) -> WorkflowRun:
        return WorkflowRun.from_json(self._http.request("POST", f"/workflows/runs/{segment(run_id)}/cancel"))

    def deploy(self, name: str, steps: Node, **settings: Any) -> Workflow:
        """Create or change a named workflow (PUT /workflows/{name}); settings in the API's words
        (onFailure, type, cronExpression, eventTypes, description, changeDescription)."""
        body = {"steps": steps, **settings}
        return Workflow.from_json(self._http.request("PUT", f"/workflows/{segment(name)}", json=body))

    def start(self, name: str, input: dict | None = None) -> WorkflowRunHandle:  # noqa: A002
        """Run a named workflow's current version."""
        data = self._http.request("POST", f"/workflows/{segment(name)}/runs", json={"input": input or {}})
        return WorkflowRunHandle(self, WorkflowRun.from_json(data))

    def versions(self, name: str) -> list[dict[str, Any]]:
        return self._http.request("GET", f"/workflows/{segment(name)}/versions")
