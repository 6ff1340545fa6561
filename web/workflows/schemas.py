"""Workflow run request and response shapes."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from contracts.statuses import WORKFLOW_RUN_STATUSES, LifecycleState
from events.names import PATTERN_RE, pattern_error
from scheduler import ticks
from web.executions.schemas import JsonObject

RUN_STATUSES = WORKFLOW_RUN_STATUSES
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


class WorkflowPutSchema(Schema):
    """PUT /workflows/{name}: the canvas and how the workflow is triggered."""

    class Meta:
        unknown = RAISE

    steps = fields.Raw(required=True, metadata=_NODE)
    onFailure = fields.Raw(load_default=None, attribute="on_failure", metadata=_NODE)
    description = fields.String(load_default=None, validate=validate.Length(max=1000))
    type = fields.String(
        load_default="ONEOFF",
        attribute="trigger_type",
        validate=validate.OneOf(("ONEOFF", "SCHEDULED", "EVENT")),
        metadata={"description": "ONEOFF (run by API), SCHEDULED (cronExpression) or EVENT (eventTypes)"},
    )
    cronExpression = fields.String(
        load_default=None,
        attribute="cron_expression",
        metadata={"pattern": ticks.CRON_PATTERN, "description": "minute hour day month weekday"},
    )
    timezone = fields.String(load_default="UTC", metadata={"enum": ticks.TIMEZONES})
    misfireGraceS = fields.Integer(
        load_default=60, attribute="misfire_grace_s", strict=True, validate=validate.Range(min=0, max=86_400)
    )
    eventTypes = fields.List(
        fields.String(validate=validate.Length(min=1, max=200), metadata={"pattern": PATTERN_RE.pattern}),
        load_default=list,
        attribute="event_types",
        validate=validate.Length(max=100),
    )
    state = fields.String(
        load_default=LifecycleState.ACTIVE,
        validate=validate.OneOf((LifecycleState.ACTIVE, LifecycleState.PAUSED)),
    )
    changeDescription = fields.String(
        load_default=None, load_only=True, attribute="change_description", validate=validate.Length(max=1000)
    )

    @validates("cronExpression")
    def _cron(self, value, **_):
        if value is not None:
            try:
                ticks.trigger(value, "UTC")
            except ticks.InvalidSchedule as exc:
                raise ValidationError(str(exc)) from exc

    @validates("timezone")
    def _timezone(self, value, **_):
        try:
            ticks.zone(value)
        except ticks.InvalidSchedule as exc:
            raise ValidationError(str(exc)) from exc

    @validates("eventTypes")
    def _event_types(self, value, **_):
        problems = [p for p in (pattern_error(v) for v in value or []) if p]
        if problems:
            raise ValidationError("; ".join(problems))

    @validates_schema
    def _trigger_fields(self, data, **_):
        if data["trigger_type"] == "SCHEDULED" and not data.get("cron_expression"):
            raise ValidationError("a SCHEDULED workflow needs cronExpression", "cronExpression")
        if data["trigger_type"] == "EVENT" and not data.get("event_types"):
            raise ValidationError("an EVENT workflow needs at least one event type", "eventTypes")


class WorkflowSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    description = fields.String(allow_none=True)
    version = fields.Integer(metadata={"description": "the current version (a new canvas is a new version)"})
    steps = fields.Raw()
    onFailure = fields.Raw(attribute="on_failure", allow_none=True)
    type = fields.String(attribute="trigger_type")
    cronExpression = fields.String(attribute="cron_expression", allow_none=True)
    timezone = fields.String()
    misfireGraceS = fields.Integer(attribute="misfire_grace_s")
    eventTypes = fields.List(fields.String(), attribute="event_types")
    state = fields.String()
    lastRunAt = fields.DateTime(attribute="last_run_at", allow_none=True)
    missedTicks = fields.Integer(attribute="missed_ticks")
    createdAt = fields.DateTime(attribute="created_at")
    updatedAt = fields.DateTime(attribute="updated_at")


class WorkflowVersionSchema(Schema):
    number = fields.Integer(attribute="version")
    steps = fields.Raw()
    onFailure = fields.Raw(attribute="on_failure", allow_none=True)
    changeDescription = fields.String(attribute="change_description", allow_none=True)
    createdBy = fields.String(attribute="created_by", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")


class NamedRunRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    input = JsonObject(
        load_default=dict, metadata={"type": "object", "description": "the first step's input"}
    )


class PageSchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000_000))
