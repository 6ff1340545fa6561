"""Function request and response shapes (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from contracts.statuses import ExecutionStatus, LifecycleState
from events.names import PATTERN_RE, pattern_error
from functions import routing
from hostapi import allowed_hosts
from infra import retry_policy
from infra.limits import MAX_CONCURRENT_RUNS
from runner.contract import LANGUAGES
from scheduler import ticks
from store.lifecycle import STATES, TRANSITIONS
from web.secrets.routes import NAME_RULE as SECRET_NAME_RULE
from web.secrets.routes import NAME_SHAPE as SECRET_NAME_SHAPE
from web.strict_fields import StrictBoolean

TRIGGER_TYPES = ("ONEOFF", "SCHEDULED", "HTTP", "EVENT", "EMBEDDED")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
POSITIVE = validate.Range(min=1)
MAX_TAGS = 50
MAX_METADATA_ENTRIES = 50


def _name_error(value: str) -> str | None:
    """Why a function name is not usable, or None. Names appear in URLs and the CLI."""
    if "/" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "a function name must not contain '/' or control characters"
    if value != value.strip():
        return "a function name must not start or end with whitespace"
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return "a function name must not look like an id (a UUID)"


def _check_name(value: str) -> None:
    problem = _name_error(value)
    if problem:
        raise ValidationError(problem)


MAX_ALLOWED_HOSTS = 50
MAX_SECRETS = 50


def _check_host_pattern(value: str) -> None:
    problem = allowed_hosts.pattern_error(value)
    if problem:
        raise ValidationError(problem)


NAME = (validate.Length(min=1, max=200), _check_name)
# _name_error as the OpenAPI document states it: no '/', no control character, no whitespace at
# either end, not a UUID.
# The optional braces as classes with NUL (which a name never holds): schemathesis rewrites a lone
# brace unescaped when it folds maxLength into the pattern, and an ECMA regex refuses that.
_HEX4 = "[0-9a-fA-F]{4}"
_UUID_SHAPE = rf"[{{\x00]?[0-9a-fA-F]{{8}}-?{_HEX4}-?{_HEX4}-?{_HEX4}-?[0-9a-fA-F]{{12}}[}}\x00]?$"
NAME_PATTERN = rf"^(?!{_UUID_SHAPE})(?!\s)[^/\x00-\x1f\x7f]*[^/\x00-\x1f\x7f\s]$"
NAME_DOC = {"description": "unique in the tenant; addresses the function in URLs", "pattern": NAME_PATTERN}


class ResourceLimitsSchema(Schema):
    class Meta:
        unknown = RAISE

    maxExecutionTimeMs = fields.Integer(validate=POSITIVE, strict=True)
    maxMemoryBytes = fields.Integer(validate=POSITIVE, strict=True)
    maxConcurrentRuns = fields.Integer(validate=validate.Range(min=1, max=MAX_CONCURRENT_RUNS), strict=True)
    maxApiCallsPerMinute = fields.Integer(validate=POSITIVE, strict=True)
    maxOutputSizeBytes = fields.Integer(validate=POSITIVE, strict=True)


class RetryPolicyField(fields.Raw):
    """retryPolicy: a JSON object checked field by field (infra/retry_policy.py)."""

    def _deserialize(self, value, attr, data, **kwargs):
        problems = retry_policy.problems(value)
        if problems:
            raise ValidationError("; ".join(problems))
        return value


RETRY_POLICY_DOC = {
    "type": "object",
    "description": "retries of queued executions (async API, cron, events; never sync execute or HTTP "
    "triggers): maxAttempts 1..20 (default 1 = no retry), initialDelayMs (1000), backoffMultiplier (2.0), "
    f"maxDelayMs (300000), jitter (true: full jitter), retryOn (['{ExecutionStatus.FAILED}', "
    f"'{ExecutionStatus.TIMEOUT}']), retryLost (false: "
    "an execution whose process died is not run again)",
    "properties": {
        "maxAttempts": {"type": "integer", "minimum": 1, "maximum": retry_policy.MAX_ATTEMPTS},
        "initialDelayMs": {"type": "integer", "minimum": 0, "maximum": retry_policy.MAX_WAIT_MS},
        "backoffMultiplier": {"type": "number", "minimum": 1, "maximum": 10},
        "maxDelayMs": {"type": "integer", "minimum": 0, "maximum": retry_policy.MAX_WAIT_MS},
        "jitter": {"type": "boolean"},
        "retryOn": {"type": "array", "items": {"type": "string", "enum": list(retry_policy.RETRYABLE)}},
        "retryLost": {"type": "boolean"},
    },
    "additionalProperties": False,
}


# Fields the API returns but never takes: a client that sends back a function it fetched
# (GET, edit, PUT) has them ignored; any other unknown field is a 400, to catch typos.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "status",
        "compileError",
        "version",
        "createdBy",
        "createdAt",
        "updatedAt",
        "nextRunAt",
        "lastRunAt",
        "missedTicks",
        "skippedTicks",
        "allowedTransitions",
        "pendingVersion",
    }
)


class FunctionWriteSchema(Schema):
    """Fields shared by create and update."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _drop_read_only(self, data, **_):
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS}
        return data

    name = fields.String(validate=NAME, metadata=NAME_DOC)
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    language = fields.String(
        validate=validate.OneOf(LANGUAGES, error="unknown language; use one of: " + ", ".join(LANGUAGES))
    )
    source = fields.String(validate=validate.Length(min=1, error="source must not be empty"))
    state = fields.String(
        validate=validate.OneOf((LifecycleState.DRAFT, LifecycleState.ACTIVE)),
        metadata={"description": "initial state"},
    )
    type = fields.String(attribute="trigger_type", validate=validate.OneOf(TRIGGER_TYPES))
    cronExpression = fields.String(
        attribute="cron_expression",
        allow_none=True,
        metadata={"pattern": ticks.CRON_PATTERN, "description": "minute hour day month weekday"},
    )
    timezone = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "IANA timezone of cronExpression (default UTC)", "enum": ticks.TIMEZONES},
    )
    misfireGraceS = fields.Integer(
        attribute="misfire_grace_s",
        strict=True,
        validate=validate.Range(min=0, max=86_400),
        metadata={"description": "a tick missed by at most this many seconds still fires once (default 60)"},
    )
    httpPath = fields.String(
        attribute="http_path",
        allow_none=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "served at /http/{tenant}{httpPath}; {name} parameters and a final * allowed",
            "pattern": routing.PATH_PATTERN,
        },
    )
    httpAuth = fields.String(
        attribute="http_auth",
        validate=validate.OneOf(("none", "key")),
        metadata={"description": "none (public, default) or key (an API key of the function's tenant)"},
    )
    httpDetailedErrors = StrictBoolean(
        attribute="http_detailed_errors",
        metadata={
            "description": "HTTP callers see the function's error message (for debugging); default false: "
            "a generic message and the execution id"
        },
    )
    httpMethods = fields.List(fields.String(validate=validate.OneOf(HTTP_METHODS)), attribute="http_methods")
    eventTypes = fields.List(
        fields.String(validate=validate.Length(min=1, max=200), metadata={"pattern": PATTERN_RE.pattern}),
        attribute="event_types",
    )
    resourceLimits = fields.Nested(ResourceLimitsSchema, attribute="resource_limits")
    retryPolicy = RetryPolicyField(attribute="retry_policy", allow_none=True, metadata=RETRY_POLICY_DOC)
    metadata = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        values=fields.String(validate=validate.Length(max=1000)),
        validate=validate.Length(max=MAX_METADATA_ENTRIES),
        metadata={"description": f"string → string, at most {MAX_METADATA_ENTRIES} entries"},
    )
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        validate=validate.Length(max=MAX_TAGS),
        metadata={"description": f"at most {MAX_TAGS}; filter with GET /functions?tag="},
    )
    allowedHosts = fields.List(
        fields.String(validate=_check_host_pattern, metadata={"pattern": allowed_hosts.PATTERN_TEXT}),
        attribute="allowed_hosts",
        validate=validate.Length(max=MAX_ALLOWED_HOSTS),
        metadata={
            "description": "hosts the code may fetch from: host, *.domain, host:port, https://host, "
            "or * (any public host); private addresses only when named exactly"
        },
    )
    secrets = fields.List(
        fields.String(validate=validate.Regexp(SECRET_NAME_SHAPE, error=SECRET_NAME_RULE)),
        validate=validate.Length(max=MAX_SECRETS),
        metadata={"description": "names of the tenant's secrets the code may read (pnil.secrets.get)"},
    )
    changeDescription = fields.String(
        load_only=True, attribute="change_description", validate=validate.Length(max=1000)
    )

    @validates("cronExpression")
    def _cron(self, value, **_):
        if value is None:
            return
        try:
            ticks.trigger(value, "UTC")
        except ticks.InvalidSchedule as exc:
            raise ValidationError(str(exc)) from exc

    @validates("httpPath")
    def _http_path(self, value, **_):
        if value is None:
            return
        try:
            routing.check(value)
        except routing.InvalidPattern as exc:
            raise ValidationError(str(exc)) from exc

    @validates("eventTypes")
    def _event_types(self, value, **_):
        problems = [p for p in (pattern_error(v) for v in value or []) if p]
        if problems:
            raise ValidationError("; ".join(problems))

    @validates("timezone")
    def _timezone(self, value, **_):
        try:
            ticks.zone(value)
        except ticks.InvalidSchedule as exc:
            raise ValidationError(str(exc)) from exc

    @validates_schema
    def _trigger_fields(self, data, **_):
        kind = data.get("trigger_type")
        if kind == "SCHEDULED" and not data.get("cron_expression"):
            raise ValidationError("a SCHEDULED function needs cronExpression", "cronExpression")
        if kind == "HTTP" and not data.get("http_path"):
            raise ValidationError("an HTTP function needs httpPath", "httpPath")
        if kind == "EVENT" and not data.get("event_types"):
            raise ValidationError("an EVENT function needs at least one event type", "eventTypes")


class FunctionCreateSchema(FunctionWriteSchema):
    name = fields.String(
        required=True,
        validate=NAME,
        metadata=NAME_DOC,
    )
    language = fields.String(
        required=True,
        validate=validate.OneOf(LANGUAGES, error="unknown language; use one of: " + ", ".join(LANGUAGES)),
    )
    source = fields.String(required=True, validate=validate.Length(min=1, error="source must not be empty"))


class FunctionUpdateSchema(FunctionWriteSchema):
    """Every field optional: only what is sent changes."""

    state = fields.String(
        validate=validate.OneOf(STATES),
        metadata={"description": "lifecycle transition; an illegal one is 409"},
    )


class FunctionSchema(Schema):
    """A function as the API returns it (never the binary)."""

    id = fields.UUID()
    name = fields.String()
    description = fields.String(allow_none=True)
    language = fields.String()
    source = fields.String()
    status = fields.String(metadata={"description": "PENDING, COMPILING, READY or FAILED"})
    compileError = fields.String(attribute="compile_error", allow_none=True)
    version = fields.Integer(
        attribute="version", metadata={"description": "the version that serves (runs when called)"}
    )
    pendingVersion = fields.Dict(
        attribute="pending_json",
        allow_none=True,
        metadata={
            "description": "a version staged by POST /functions/{id}/versions and not yet serving: "
            "{version, language, status (PENDING or FAILED), compileError, changeDescription, createdAt}; "
            "null when none"
        },
    )
    state = fields.String(metadata={"description": "DRAFT, ACTIVE, PAUSED, DISABLED or ARCHIVED"})
    type = fields.String(attribute="trigger_type")
    cronExpression = fields.String(attribute="cron_expression", allow_none=True)
    timezone = fields.String()
    misfireGraceS = fields.Integer(attribute="misfire_grace_s")
    nextRunAt = fields.Function(
        lambda row: _next_run_at(row),
        allow_none=True,
        metadata={
            "description": "next tick of an ACTIVE SCHEDULED function, else null",
            "format": "date-time",
        },
    )
    lastRunAt = fields.DateTime(
        attribute="last_run_at", allow_none=True, metadata={"description": "last tick fired"}
    )
    missedTicks = fields.Integer(
        attribute="missed_ticks", metadata={"description": "ticks skipped as misfired (older than the grace)"}
    )
    skippedTicks = fields.Integer(
        attribute="skipped_not_ready",
        metadata={"description": "ticks not fired because the function was not READY"},
    )
    httpPath = fields.String(attribute="http_path", allow_none=True)
    httpAuth = fields.String(attribute="http_auth")
    httpDetailedErrors = fields.Boolean(attribute="http_detailed_errors")
    httpMethods = fields.List(fields.String(), attribute="http_methods")
    eventTypes = fields.List(fields.String(), attribute="event_types")
    resourceLimits = fields.Dict(attribute="resource_limits")
    retryPolicy = fields.Dict(
        attribute="retry_policy", metadata={"description": "the effective retry policy (defaults filled in)"}
    )
    metadata = fields.Dict()
    tags = fields.List(fields.String())
    allowedHosts = fields.List(fields.String(), attribute="allowed_hosts")
    secrets = fields.List(fields.String())
    allowedTransitions = fields.Function(
        lambda row: sorted(TRANSITIONS[row["state"]]),
        metadata={"description": "the states POST /functions/{id}/state accepts from this one"},
    )
    createdBy = fields.String(attribute="created_by", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")
    updatedAt = fields.DateTime(attribute="updated_at")


class PageSchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    # Bounded so that a huge offset is a 400, not a bigint overflow in PostgreSQL.
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000_000))


class FunctionFilterSchema(PageSchema):
    name = fields.String(load_default=None, metadata={"description": "part of the name, case-insensitive"})
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    type = fields.String(load_default=None, validate=validate.OneOf(TRIGGER_TYPES))
    language = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES))
    tag = fields.List(
        fields.String(), load_default=None, metadata={"description": "repeatable: every tag must be present"}
    )


def _next_run_at(row) -> str | None:
    if (
        row.get("trigger_type") != "SCHEDULED"
        or row.get("state") != LifecycleState.ACTIVE
        or not row.get("cron_expression")
    ):
        return None
    try:
        tick = ticks.next_tick(row["cron_expression"], row.get("timezone") or "UTC", datetime.now(UTC))
    except ticks.InvalidSchedule:
        return None
    return tick.isoformat() if tick else None
