"""Event request and response shapes."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from events.names import MAX_TYPE_CHARS, SOURCES, TYPE_RE, type_error
from web.executions.schemas import JsonObject


class PublishEventSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(
        required=True,
        metadata={
            "description": f"dotted name, e.g. order.created (≤ {MAX_TYPE_CHARS})",
            "minLength": 1,
            "maxLength": MAX_TYPE_CHARS,
            "pattern": TYPE_RE.pattern,
        },
    )
    payload = JsonObject(load_default=dict, metadata={"type": "object", "description": "a JSON object"})

    @validates("type")
    def _type(self, value, **_):
        problem = type_error(value)
        if problem:
            raise ValidationError(problem)


class EventFilterSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    source = fields.String(
        load_default=None,
        validate=validate.OneOf(SOURCES, error="source is one of: " + ", ".join(SOURCES)),
        metadata={
            "description": "user: yours (the default without type=); platform: pnil's own jsruntime.*; "
            "all: both (the default with type=)"
        },
    )


class EventIdSchema(Schema):
    id = fields.UUID()


class EventSchema(Schema):
    id = fields.UUID()
    tenantId = fields.UUID(attribute="tenant_id")
    type = fields.String()
    payload = fields.Raw()
    depth = fields.Integer(metadata={"description": "event-triggered executions that led to it"})
    sourceExecutionId = fields.UUID(attribute="source_execution_id", allow_none=True)
    occurredAt = fields.DateTime(attribute="created_at")
    dispatchedAt = fields.DateTime(attribute="dispatched_at", allow_none=True)
    executionsStarted = fields.Integer(attribute="executions_started")
    suppressed = fields.Boolean(metadata={"description": "held back by the loop guard"})
    executions = fields.List(fields.UUID(), metadata={"description": "executions it started (GET by id)"})
