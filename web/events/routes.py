"""POST /events and the tenant's recent events."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from flask_smorest import abort

from events.publish import publish
from store import events as store
from web.auth import current
from web.blueprint import Blueprint
from web.db import pool, settings
from web.events.schemas import EventFilterSchema, EventIdSchema, EventSchema, PublishEventSchema

blp = Blueprint("events", __name__, url_prefix="/events", description="Publish and read events")


@blp.route("")
class Events(MethodView):
    @blp.arguments(PublishEventSchema)
    @blp.response(202, EventIdSchema)
    def post(self, body):
        """Publish an event of your tenant; EVENT functions subscribed to its type run with it."""
        tenant_id = current().tenant_id
        with pool().connection() as conn, conn.transaction():
            event_id = publish(conn, tenant_id, body["type"], body["payload"])
        response = jsonify({"id": str(event_id)})
        response.status_code = 202
        response.headers["Location"] = f"/events/{event_id}"
        return response

    @blp.arguments(EventFilterSchema, location="query")
    @blp.response(200, EventSchema(many=True))
    def get(self, query):
        """The tenant's recent events, newest first (`?type=&limit=&source=user|platform|all`), with the
        executions each started; your own events by default, pnil's jsruntime.* ones on request."""
        source = query["source"] or ("all" if query["type"] else "user")
        platform = {"user": False, "platform": True, "all": None}[source]
        with pool().connection() as conn:
            return store.recent(
                conn,
                current().tenant_id,
                event_type=query["type"],
                limit=query["limit"],
                platform=platform,
                retention_days=settings().retention.event_days,
            )


@blp.route("/<uuid:event_id>")
class EventById(MethodView):
    @blp.response(200, EventSchema)
    def get(self, event_id):
        """One event with the executions it started."""
        with pool().connection() as conn:
            row = store.get(
                conn, current().tenant_id, event_id, retention_days=settings().retention.event_days
            )
        if row is None:
            abort(404, message=f"event {event_id} not found")
        return row
