"""The audit log: every request that changes or runs something through the API, and GET /admin/audit.

Recorded after the route answered (refused attempts too, with their status): the key and tenant,
the method and path, the route (`action`) and what it touched (`target`: the id in the path or
the id of what it created). Reads (GET) and the public HTTP triggers are not recorded.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from infra.logs import event
from store import audit
from store.audit import AuditLine
from web.blueprint import Blueprint
from web.db import pool

log = logging.getLogger(__name__)
blp = Blueprint("audit", __name__, url_prefix="/admin", description="Operator views")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TARGET_ARGS = ("function_id", "execution_id", "key_id", "event_id", "name", "key")


def install(app: Flask) -> None:
    """Record every write request that reached a route."""
    app.after_request(_record)


def _target(response: Response) -> str | None:
    args = request.view_args or {}
    for name in TARGET_ARGS:
        if name in args:
            return str(args[name])
    if response.status_code == 201 and response.is_json:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and "id" in body:
            return str(body["id"])
    return None


def line_of_this_request(status: int, target: str | None) -> AuditLine | None:
    """The audit line of this request, answered `status`, for a statement that writes it along
    with its own change (the sync execute's end); call `recorded()` once it is written."""
    principal = getattr(g, "principal", None)
    if request.method not in WRITES or request.url_rule is None or principal is None:
        return None
    return AuditLine(
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        method=request.method,
        path=request.path[:1000],
        status=status,
        action=f"{request.method} {request.url_rule.rule}",
        target=target,
    )


def recorded() -> None:
    """This request's line is written already: the after-request hook writes none."""
    g.audit_recorded = True


def _record(response: Response) -> Response:
    if g.get("audit_recorded"):
        return response
    line = line_of_this_request(response.status_code, None)
    if line is None:
        return response
    try:
        with pool().connection() as conn:
            audit.record(
                conn,
                tenant_id=line.tenant_id,
                key_id=line.key_id,
                method=line.method,
                path=line.path,
                status=line.status,
                action=line.action,
                target=_target(response),
            )
    except Exception:  # noqa: BLE001 - the request already happened; say so loudly, answer anyway
        event(log, "audit.not_recorded", level=logging.ERROR, path=request.path, exc_info=True)
    return response


class AuditQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    tenant = fields.String(load_default=None, metadata={"description": "only this tenant's lines"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    before = fields.Integer(load_default=None, metadata={"description": "lines older than this id"})


class AuditSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    tenant = fields.String(allow_none=True)
    keyId = fields.UUID(attribute="key_id", allow_none=True, metadata={"description": "null: anonymous"})
    method = fields.String()
    path = fields.String()
    status = fields.Integer(metadata={"description": "what pnil answered"})
    action = fields.String(
        metadata={"description": "method and route, e.g. DELETE /functions/<fn:function_id>"}
    )
    target = fields.String(allow_none=True, metadata={"description": "the id or name it touched"})


@blp.route("/audit")
class Audit(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditSchema(many=True))
    def get(self, query):
        """Who changed or ran what, newest first (`?tenant=&limit=&before=`); admin keys only."""
        with pool().connection() as conn:
            return audit.page(conn, tenant=query["tenant"], limit=query["limit"], before=query["before"])
