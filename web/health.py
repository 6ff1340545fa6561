"""GET /health (alive: the database answers) and GET /ready (can take traffic: the database
answers, its schema is the one this release needs, this process's sandboxes are warm).

Both ask the database on the process's listening connection (infra/listener.py), never on the
request pool: a full pool does not make them wait or lie, and they cost no connection of their own."""

from __future__ import annotations

import threading

from flask import Flask, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from contracts.statuses import Readiness
from infra.listener import process_listener
from migrations import pending_migrations

blp = Blueprint("health", __name__, description="Liveness and readiness")
_warming = threading.Lock()


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "UP"})


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"example": Readiness.READY})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"example": {"database": "UP", "schema": "CURRENT", "sandboxes": "WARM"}},
    )
    message = fields.String()


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The database is unreachable")
    @blp.doc(security=[])
    def get(self):
        """Report whether this process can reach the database."""
        try:
            with process_listener(current_app.extensions["pnil.settings"].database_url).borrow() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means DOWN
            return {"status": "DOWN", "message": f"database unreachable: {type(exc).__name__}"}, 503
        return {"status": "UP"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, schema=ReadySchema, description="Not ready: the checks say which part and why")
    @blp.doc(security=[])
    def get(self):
        """Report whether this process can take traffic (for load balancers and orchestrators)."""
        checks, problems = {}, []
        try:
            with process_listener(current_app.extensions["pnil.settings"].database_url).borrow() as conn:
                missing = pending_migrations(conn)
            checks["database"] = "UP"
            checks["schema"] = "CURRENT" if not missing else "BEHIND"
            if missing:
                problems.append(f"migration {missing[0]} is missing: run the release step")
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["database"], checks["schema"] = "DOWN", "UNKNOWN"
            problems.append(f"database unreachable: {type(exc).__name__}")
        warm = "pnil.executions" in current_app.extensions
        checks["sandboxes"] = "WARM" if warm else "WARMING"
        if not warm:
            start_warming(current_app._get_current_object())
            problems.append("the sandbox subprocesses are starting")
        if problems:
            return {"status": Readiness.NOT_READY, "checks": checks, "message": "; ".join(problems)}, 503
        return {"status": Readiness.READY, "checks": checks}


def start_warming(app: Flask) -> None:
    """Start this process's sandbox pool in the background (once); /ready says when it is warm."""
    if app.extensions.get("pnil.warming") or "pnil.executions" in app.extensions:
        return
    with _warming:
        if app.extensions.get("pnil.warming"):
            return
        app.extensions["pnil.warming"] = True

    def warm() -> None:
        from web.executions.routes import service

        with app.app_context():
            service()

    threading.Thread(target=warm, name="sandbox-warmup", daemon=True).start()
