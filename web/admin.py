"""/admin: operator views (admin keys only)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from broker.pgmq import queue_stats
from contracts.queues import QUEUES
from infra.storage_bounds import TENANT_FIELDS, server_defaults
from store import retention, schedules, storage, tenants
from web.auth import require_admin
from web.blueprint import Blueprint
from web.db import pool, settings
from web.strict_fields import StrictBoolean

blp = Blueprint("admin", __name__, url_prefix="/admin", description="Operator views")


class QueueStatsSchema(Schema):
    queue = fields.String(metadata={"description": "pgmq queue name"})
    depth = fields.Integer(metadata={"description": "visible messages waiting for a worker"})
    inFlight = fields.Integer(
        metadata={"description": "invisible messages: being worked on, or waiting out a retry backoff"}
    )
    oldestMessageAgeSeconds = fields.Integer(
        allow_none=True, metadata={"description": "age of the oldest message in the queue; null when empty"}
    )
    totalSent = fields.Integer(metadata={"description": "messages ever sent to the queue"})
    deadLettered = fields.Integer(metadata={"description": "messages archived as dead"})


@blp.route("/queues")
class Queues(MethodView):
    @blp.response(200, QueueStatsSchema(many=True))
    def get(self):
        """Depth, in-flight, oldest age, total and dead-lettered counts of every pnil queue."""
        require_admin()
        with pool().connection() as conn:
            return queue_stats(conn, QUEUES)


class SchedulerSchema(Schema):
    name = fields.String(metadata={"description": "host:pid:suffix of the scheduler process"})
    host = fields.String()
    pid = fields.Integer()
    functions = fields.Integer(metadata={"description": "ACTIVE SCHEDULED functions it holds"})
    startedAt = fields.DateTime(attribute="started_at")
    seenAt = fields.DateTime(attribute="seen_at", metadata={"description": "its last heartbeat (every 5 s)"})


@blp.route("/scheduler")
class Schedulers(MethodView):
    @blp.response(200, SchedulerSchema(many=True))
    def get(self):
        """The live scheduler processes (heartbeat within 30 s) and how many functions each holds."""
        require_admin()
        with pool().connection() as conn:
            return schedules.live(conn)


class KeySchema(Schema):
    id = fields.UUID()
    tenant = fields.String(metadata={"description": "the tenant's name"})
    name = fields.String()
    admin = fields.Boolean()
    scopes = fields.List(fields.String(), metadata={"description": "admin, manage, invoke, read"})
    functions = fields.List(
        fields.UUID(),
        attribute="function_ids",
        allow_none=True,
        metadata={"description": "an invoke key limited to these functions; null: any"},
    )
    expiresAt = fields.DateTime(attribute="expires_at", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")
    lastUsedAt = fields.DateTime(attribute="last_used_at", allow_none=True)
    revokedAt = fields.DateTime(attribute="revoked_at", allow_none=True)


class NewKeySchema(KeySchema):
    key = fields.String(metadata={"description": "the key itself: shown only in this response"})


class KeyCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    tenant = fields.String(
        required=True,
        validate=validate.Length(min=1, max=63),
        metadata={
            "pattern": tenants.TENANT_NAME.pattern,
            "description": "1-63 lowercase letters, digits, - or _",
        },
    )
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    admin = StrictBoolean(load_default=False, metadata={"description": "the same as scopes [admin]"})
    scopes = fields.List(
        fields.String(validate=validate.OneOf(tenants.SCOPES)),
        load_default=None,
        validate=validate.Length(min=1),
        metadata={"description": "default [admin] with admin: true, else [manage]"},
    )
    functions = fields.List(
        fields.UUID(),
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "limit an invoke key to these functions (ids) of its tenant"},
    )
    expiresAt = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "the key stops working at this time (ISO 8601 with offset)"},
    )


_KEY_FIELDS = tenants.KEY_COLUMNS


@blp.route("/keys")
class Keys(MethodView):
    @blp.response(200, KeySchema(many=True))
    def get(self):
        """Every API key of every tenant (never the keys themselves)."""
        require_admin()
        with pool().connection() as conn:
            return [dict(zip(_KEY_FIELDS, row, strict=True)) for row in tenants.list_keys(conn)]

    @blp.arguments(KeyCreateSchema)
    @blp.response(201, NewKeySchema)
    def post(self, body):
        """Create a key for a tenant (and the tenant, if new); the key is shown only in this answer."""
        require_admin()
        name = body["name"] or f"{body['tenant']} key"
        if body["expiresAt"] is not None and body["expiresAt"] <= datetime.now(UTC):
            abort(400, message="expiresAt is in the past")
        with pool().connection() as conn, conn.transaction():
            key_id, key = tenants.create_key(
                conn,
                body["tenant"],
                name=name,
                admin=body["admin"],
                scopes=body["scopes"],
                function_ids=body["functions"],
                expires_at=body["expiresAt"],
            )
            found = next(row for row in tenants.list_keys(conn) if row[0] == key_id)
        return dict(zip(_KEY_FIELDS, found, strict=True)) | {"key": key}


@blp.route("/keys/<uuid:key_id>")
class KeyById(MethodView):
    @blp.response(204)
    def delete(self, key_id):
        """Revoke a key: requests with it are 401 from now on."""
        require_admin()
        with pool().connection() as conn:
            if not tenants.revoke_key(conn, key_id):
                abort(404, message=f"no active key {key_id}")


def _bound_field(description: str, minimum: int, maximum: int = 2**31 - 1) -> fields.Integer:
    return fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=minimum, max=maximum),
        metadata={"description": f"{description}; null: the server's setting"},
    )


class TenantBoundsSchema(Schema):
    class Meta:
        unknown = RAISE

    executionRetentionDays = _bound_field(
        "days executions are kept (the newest of each function always is)", 1
    )
    eventRetentionDays = _bound_field("days events are kept", 1)
    maxFunctions = _bound_field("functions the tenant may have", 0)
    maxKvKeys = _bound_field("keys in its key-value store", 0)
    maxKvBytes = _bound_field("bytes (keys and JSON values) in its key-value store", 0, 2**62)
    maxPendingExecutions = _bound_field("queued executions waiting to run (past it: 429 with Retry-After)", 0)


class TenantSchema(TenantBoundsSchema):
    name = fields.String(metadata={"description": "the tenant's name"})
    effective = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "the values in force"}
    )


def _tenant_json(row: dict) -> dict:
    defaults = server_defaults(settings().quotas, settings().retention)
    own = {name: row[column] for name, column in TENANT_FIELDS.items()}
    effective = {
        name: row[column] if row[column] is not None else defaults[column]
        for name, column in TENANT_FIELDS.items()
    }
    return {"name": row["slug"], **own, "effective": effective}


@blp.route("/tenants/<string:name>")
class TenantByName(MethodView):
    @blp.response(200, TenantSchema)
    def get(self, name):
        """A tenant's retention windows and quotas: its own (null: the server's) and those in force."""
        require_admin()
        with pool().connection() as conn:
            row = tenants.bounds(conn, name, list(TENANT_FIELDS.values()))
        if row is None:
            abort(404, message=f"no tenant {name!r}")
        return _tenant_json(row)

    @blp.arguments(TenantBoundsSchema)
    @blp.response(200, TenantSchema)
    def put(self, body, name):
        """Set a tenant's own retention windows and quotas (fields left out keep their value; null
        returns to the server's setting); creates the tenant when new."""
        require_admin()
        if not request.get_data(cache=True).strip():
            abort(400, message='send a JSON object of the settings to change, e.g. {"maxFunctions": 50}')
        with pool().connection() as conn, conn.transaction():
            tenants.set_bounds(conn, name, {TENANT_FIELDS[field]: value for field, value in body.items()})
            row = tenants.bounds(conn, name, list(TENANT_FIELDS.values()))
        return _tenant_json(row)


class TableStorageSchema(Schema):
    table = fields.String(metadata={"description": "table name (pgmq queue tables as pgmq.q_<queue>)"})
    rows = fields.Integer(metadata={"description": "rows: exact up to 20000, else PostgreSQL's estimate"})
    bytes = fields.Integer(metadata={"description": "heap, TOAST and index bytes, partitions summed"})
    partitions = fields.Integer(metadata={"description": "1, or the number of partitions"})
    oldestRowAt = fields.DateTime(allow_none=True, metadata={"description": "the oldest row kept"})


class PruneSchema(Schema):
    startedAt = fields.DateTime(attribute="started_at")
    finishedAt = fields.DateTime(attribute="finished_at", allow_none=True)
    cpuMs = fields.Float(
        attribute="cpu_ms", allow_none=True, metadata={"description": "CPU of the pruning process"}
    )
    removed = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "what it removed, by kind"}
    )


class StorageSchema(Schema):
    tables = fields.List(fields.Nested(TableStorageSchema))
    tenants = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(
            keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer())
        ),
        metadata={"description": "per tenant and table: rows and bytes (its sampled share of the table)"},
    )
    lastPrune = fields.Nested(
        PruneSchema, allow_none=True, metadata={"description": "the latest retention prune"}
    )


@blp.route("/storage")
class Storage(MethodView):
    @blp.response(200, StorageSchema)
    def get(self):
        """Rows and bytes per table and per tenant, oldest row kept, the last prune and what it removed."""
        require_admin()
        with pool().connection() as conn:
            tables = storage.tables(conn, [f"pgmq.q_{queue}" for queue in QUEUES])
            by_table = {t["table"]: t for t in tables}
            return {
                "tables": tables,
                "tenants": storage.per_tenant(conn, by_table),
                "lastPrune": retention.last_prune(conn),
            }
