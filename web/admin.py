"""/admin: operator views (admin keys only)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from broker.broker import queue_stats
from store import schedules, tenants
from tasks.contracts import QUEUES
from web.auth import require_admin
from web.blueprint import Blueprint
from web.db import pool
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

    tenant = fields.String(required=True, validate=validate.Length(min=1, max=100))
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
        with pool().connection() as conn, conn.transaction():
            try:
                if body["expiresAt"] is not None and body["expiresAt"] <= datetime.now(UTC):
                    raise ValueError("expiresAt is in the past")
                key_id, key = tenants.create_key(
                    conn,
                    body["tenant"],
                    name=name,
                    admin=body["admin"],
                    scopes=body["scopes"],
                    function_ids=body["functions"],
                    expires_at=body["expiresAt"],
                )
            except ValueError as exc:
                abort(400, message=str(exc))
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
