"""GET /health: UP when the database answers."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "UP"})


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
    @blp.doc(security=[])
    def get(self):
        """Report whether this process can reach the database."""
        try:
            with current_app.extensions["pnil.health_db"].connection(timeout=2.0) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means DOWN
            return {"status": "DOWN", "message": f"database unreachable: {type(exc).__name__}"}, 503
        return {"status": "UP"}
