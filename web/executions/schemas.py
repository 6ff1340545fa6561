"""Execution request and response shapes."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields


class JsonObject(fields.Raw):
    """A JSON object (not a string, array, number or null)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError(
                f'input must be a JSON object, e.g. {{"input": {{"name": "x"}}}}; got {type(value).__name__}'
            )
        return value


class ExecuteRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    input = JsonObject(load_default=dict, metadata={"description": "a JSON object handed to handle()"})


class MetricsSchema(Schema):
    durationMs = fields.Float()
    memoryPeakBytes = fields.Integer()


class ExecutionSchema(Schema):
    """ExecutionResponse."""

    id = fields.UUID()
    functionId = fields.UUID(attribute="function_id")
    functionVersion = fields.Integer(attribute="function_version", allow_none=True)
    status = fields.String(
        metadata={"description": "PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT or CANCELLED"}
    )
    triggerType = fields.String(attribute="trigger_type")
    triggerData = fields.Raw(attribute="trigger_data", allow_none=True)
    input = fields.Raw(allow_none=True)
    output = fields.Raw(allow_none=True)
    errorMessage = fields.String(attribute="error_message", allow_none=True)
    logs = fields.String(allow_none=True)
    metrics = fields.Nested(MetricsSchema, allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")
    startedAt = fields.DateTime(attribute="started_at", allow_none=True)
    completedAt = fields.DateTime(attribute="completed_at", allow_none=True)
