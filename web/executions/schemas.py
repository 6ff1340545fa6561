"""Execution request and response shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from contracts.statuses import ExecutionStatus
from infra import retry_policy
from web.functions.schemas import RETRY_POLICY_DOC, RetryPolicyField


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

    input = JsonObject(
        load_default=dict, metadata={"type": "object", "description": "a JSON object handed to handle()"}
    )

    @pre_load
    def _unwrapped_input(self, data, **_):
        """A body that is the input itself ({"name": "Ada"}) gets told how to wrap it."""
        if isinstance(data, dict) and data and "input" not in data:
            raise ValidationError(
                'the request body is {"input": <JSON object>}: wrap your object, e.g. '
                f'{{"input": {{"{next(iter(data))}": ...}}}}',
                "input",
            )
        return data


_MAX_WAIT_DAYS = retry_policy.MAX_WAIT_MS // (24 * 3600 * 1000)


class QueueRequestSchema(ExecuteRequestSchema):
    """POST /functions/{id}/executions: the input, and when to run and retry it."""

    delayMs = fields.Integer(
        strict=True,
        validate=validate.Range(
            min=0,
            max=retry_policy.MAX_WAIT_MS,
            error=f"delayMs must be from 0 to {retry_policy.MAX_WAIT_MS} ({_MAX_WAIT_DAYS} days)",
        ),
        metadata={
            "description": f"start no sooner than this many ms from now (at most {_MAX_WAIT_DAYS} days)"
        },
    )
    runAt = fields.AwareDateTime(
        format="iso",
        metadata={
            "description": f"start no sooner than this time (RFC 3339, at most {_MAX_WAIT_DAYS} days ahead)"
        },
    )
    expiresAt = fields.AwareDateTime(
        format="iso",
        metadata={"description": "not started by then: FAILED with errorMessage 'expired: ...', never run"},
    )
    maxQueueMs = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=retry_policy.MAX_WAIT_MS),
        metadata={"description": "expiresAt as a duration from scheduledFor (else from now)"},
    )
    retryPolicy = RetryPolicyField(metadata=RETRY_POLICY_DOC)

    @validates_schema
    def _when(self, data, **_):
        if "delayMs" in data and "runAt" in data:
            raise ValidationError("give delayMs or runAt, not both", "runAt")
        if "expiresAt" in data and "maxQueueMs" in data:
            raise ValidationError("give expiresAt or maxQueueMs, not both", "maxQueueMs")
        now = datetime.now(UTC)
        if "runAt" in data and data["runAt"] > now + timedelta(milliseconds=retry_policy.MAX_WAIT_MS):
            raise ValidationError(f"runAt is more than {_MAX_WAIT_DAYS} days ahead, the limit", "runAt")
        if "expiresAt" in data and data["expiresAt"] <= now:
            raise ValidationError("expiresAt is in the past", "expiresAt")


def check_queue_times(body: dict) -> None:
    """ValueError when an execution would expire before it is due (it could never run)."""
    now = datetime.now(UTC)
    due = body.get("runAt") or now + timedelta(milliseconds=body.get("delayMs", 0))
    if "expiresAt" in body and body["expiresAt"] <= due:
        raise ValueError(
            "expiresAt is not after the time it is due to start (delayMs/runAt): it could never run"
        )


class MetricsSchema(Schema):
    durationMs = fields.Float()
    memoryPeakBytes = fields.Integer(
        allow_none=True,
        metadata={
            "description": "peak linear memory of the guest; null when not measured (Python functions: "
            "the CPython runtime's memory is not visible to the host)"
        },
    )
    apiCallCount = fields.Integer(metadata={"description": "host API calls (kv, fetch, emit) the code made"})
    databaseQueryCount = fields.Integer(metadata={"description": "of which key-value store queries"})


class ExecutionSchema(Schema):
    """ExecutionResponse."""

    id = fields.UUID()
    functionId = fields.UUID(attribute="function_id")
    functionVersion = fields.Integer(attribute="version", allow_none=True)
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
    queuedAt = fields.Function(
        lambda row: _iso(row["created_at"]),
        metadata={
            "description": "when it was admitted (queue wait = startedAt - queuedAt)",
            "format": "date-time",
        },
    )
    startedAt = fields.DateTime(attribute="started_at", allow_none=True)
    completedAt = fields.DateTime(attribute="completed_at", allow_none=True)
    attempt = fields.Integer(metadata={"description": "1-based: the how-manieth attempt of its chain"})
    maxAttempts = fields.Integer(attribute="max_attempts", metadata={"description": "of its retry policy"})
    retryOf = fields.UUID(
        attribute="retry_of",
        allow_none=True,
        metadata={"description": "the previous attempt (null for the first)"},
    )
    firstAttemptId = fields.UUID(
        attribute="first_attempt_id",
        metadata={"description": "the chain's first attempt (its own id for it)"},
    )
    retried = fields.Boolean(metadata={"description": "a next attempt was created when this one ended"})
    retryPolicy = fields.Dict(
        attribute="retry_policy",
        allow_none=True,
        metadata={
            "description": "the chain's effective retry policy; null for sync executions (never retried)"
        },
    )
    scheduledFor = fields.DateTime(
        attribute="scheduled_for", allow_none=True, metadata={"description": "does not start before this"}
    )
    expiresAt = fields.DateTime(
        attribute="expires_at",
        allow_none=True,
        metadata={"description": "not started by then: FAILED expired"},
    )
    replayOf = fields.UUID(
        attribute="replay_of", allow_none=True, metadata={"description": "the execution this one replays"}
    )
    workflowRunId = fields.UUID(
        attribute="workflow_run_id", allow_none=True, metadata={"description": "the workflow run of a step"}
    )
    stepPath = fields.String(
        attribute="step_path",
        allow_none=True,
        metadata={"description": "a step's node in its run's body, as a JSON pointer (/steps/chain/0)"},
    )


def _iso(value):
    return value.isoformat() if value is not None else None


_INT_METRICS = ("memoryPeakBytes", "apiCallCount", "databaseQueryCount")


def _int_or_none(value) -> int | None:
    return int(value) if value is not None else None


def execution_json(row: dict) -> dict:
    """What `ExecutionSchema().dump(row)` gives, built directly: the sync-execute hot path.

    marshmallow's dump cost about a sixth of an execute request; a test checks that both agree.
    """
    metrics = row["metrics"]
    if metrics is not None:
        metrics = {
            **({"durationMs": float(metrics["durationMs"])} if "durationMs" in metrics else {}),
            **{name: _int_or_none(metrics[name]) for name in _INT_METRICS if name in metrics},
        }
    version = row["version"]
    return {
        "id": str(row["id"]),
        "functionId": str(row["function_id"]),
        "functionVersion": int(version) if version is not None else None,
        "status": row["status"],
        "triggerType": row["trigger_type"],
        "triggerData": row["trigger_data"],
        "input": row["input"],
        "output": row["output"],
        "errorMessage": row["error_message"],
        "logs": row["logs"],
        "metrics": metrics,
        "createdAt": _iso(row["created_at"]),
        "queuedAt": _iso(row["created_at"]),
        "startedAt": _iso(row["started_at"]),
        "completedAt": _iso(row["completed_at"]),
        "attempt": row["attempt"],
        "maxAttempts": row["max_attempts"],
        "retryOf": _str(row["retry_of"]),
        "firstAttemptId": str(row["first_attempt_id"]),
        "retried": row["retried"],
        "retryPolicy": row["retry_policy"],
        "scheduledFor": _iso(row["scheduled_for"]),
        "expiresAt": _iso(row["expires_at"]),
        "replayOf": _str(row["replay_of"]),
        "workflowRunId": str(row["workflow_run_id"]) if row.get("workflow_run_id") else None,
        "stepPath": row.get("step_path"),
    }


def _str(value):
    return str(value) if value is not None else None


STATUSES = tuple(ExecutionStatus)
TRIGGER_TYPES = ("CRON", "HTTP", "EVENT", "MANUAL", "API", "WORKFLOW")


class ExecutionFilterSchema(Schema):
    """`?limit=&offset=&status=&triggerType=` of an execution listing."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000_000))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    triggerType = fields.String(
        load_default=None, data_key="triggerType", validate=validate.OneOf(TRIGGER_TYPES)
    )


class TenantExecutionFilterSchema(Schema):
    """`?status=&final=&firstAttemptId=&limit=&offset=` of GET /executions."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000_000))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    final = fields.Boolean(
        load_default=None,
        metadata={
            "description": "true: queued executions that failed (FAILED or TIMEOUT) and will not be retried "
            "any more (dead letters); false: every other one"
        },
    )
    firstAttemptId = fields.UUID(
        load_default=None, metadata={"description": "every attempt of the chain that began with this one"}
    )


class ReplayRequestSchema(Schema):
    """POST /executions/{id}/replay."""

    class Meta:
        unknown = RAISE

    version = fields.String(
        load_default="same",
        validate=validate.OneOf(("same", "latest")),
        metadata={"description": "same (default: the version it ran, while still live) or latest"},
    )
    input = JsonObject(metadata={"type": "object", "description": "replaces the original input"})
