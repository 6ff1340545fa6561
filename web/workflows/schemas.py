"""Workflow run request and response shapes."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from web.executions.schemas import JsonObject

RUN_STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
_NODE = {
    "type": "object",
    "description": '{"function": "name-or-id", "input"?, "retryPolicy"?} | {"chain": [node, ...]} | '
    '{"group": [node, ...]} | {"chord": {"group": [node, ...], "then": node}}',
}


class RunRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    input = JsonObject(
        load_default=dict, metadata={"type": "object", "description": "the first step's input"}
    )
    steps = fields.Raw(required=True, metadata=_NODE)
    onFailure = fields.Raw(
        load_default=None,
        metadata={**_NODE, "description": "queued with {runId, failedStep, error} when a step fails"},
    )


class RunFilterSchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(load_default=None, validate=validate.OneOf(RUN_STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000_000))


class RunSchema(Schema):
    """A workflow run; `tree` mirrors its canvas, each step with its execution."""

    id = fields.UUID()
    status = fields.String(metadata={"description": "PENDING, RUNNING, COMPLETED, FAILED or CANCELLED"})
    input = fields.Raw(allow_none=True)
    output = fields.Raw(allow_none=True, metadata={"description": "the last node's output"})
    error = fields.String(
        allow_none=True, metadata={"description": "names the step that failed and its error"}
    )
    failedStep = fields.String(attribute="failed_step", allow_none=True)
    workflowName = fields.String(attribute="workflow_name", allow_none=True)
    workflowVersion = fields.Integer(attribute="workflow_version", allow_none=True)
    triggerType = fields.String(attribute="trigger_type")
    createdAt = fields.DateTime(attribute="created_at")
    startedAt = fields.DateTime(attribute="started_at", allow_none=True)
    completedAt = fields.DateTime(attribute="completed_at", allow_none=True)
    steps = fields.Raw(metadata={"description": "the canvas as run, functions resolved to ids"})
    onFailure = fields.Raw(attribute="on_failure", allow_none=True)
    tree = fields.Raw(
        metadata={
            "description": "nodes {path, kind, steps | group+then} and steps {path, functionId, "
            "functionName, status, executionId, attempts, durationMs, startedAt, completedAt}"
        }
    )
    onFailureTree = fields.Raw(attribute="on_failure_tree", allow_none=True)


class RunSummarySchema(Schema):
    id = fields.UUID()
    status = fields.String()
    error = fields.String(allow_none=True)
    workflowName = fields.String(attribute="workflow_name", allow_none=True)
    workflowVersion = fields.Integer(attribute="workflow_version", allow_none=True)
    triggerType = fields.String(attribute="trigger_type")
    createdAt = fields.DateTime(attribute="created_at")
    startedAt = fields.DateTime(attribute="started_at", allow_none=True)
    completedAt = fields.DateTime(attribute="completed_at", allow_none=True)
