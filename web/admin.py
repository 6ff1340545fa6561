"""/admin: operator views (admin key, or anonymous local access)."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from store import schedules
from store.queues import queue_stats
from web.auth import require_admin
from web.blueprint import Blueprint
from web.db import pool

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
            return queue_stats(conn)


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
