"""GET /whoami: the tenant and key a request acts as (the console and CLI show it)."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from web.auth import current
from web.blueprint import Blueprint
from web.db import settings

blp = Blueprint("whoami", __name__, description="Who is calling")


class WhoAmISchema(Schema):
    tenant = fields.String(metadata={"description": "the tenant's name"})
    tenantId = fields.UUID()
    keyName = fields.String(allow_none=True)
    admin = fields.Boolean(metadata={"description": "may use /admin/* and /metrics"})
    anonymous = fields.Boolean(metadata={"description": "no key: anonymous local access"})
    anonymousAllowed = fields.Boolean(metadata={"description": "requests without a key are accepted"})
    scopes = fields.List(fields.String(), metadata={"description": "admin, manage, invoke, read"})
    functions = fields.List(
        fields.UUID(), allow_none=True, metadata={"description": "an invoke key's functions; null: any"}
    )


@blp.route("/whoami")
class WhoAmI(MethodView):
    @blp.response(200, WhoAmISchema)
    def get(self):
        """The caller's tenant, key name and whether it is an admin."""
        principal = current()
        return {
            "tenant": principal.tenant_slug,
            "tenantId": principal.tenant_id,
            "keyName": principal.key_name,
            "admin": principal.is_admin,
            "anonymous": principal.key_id is None,
            "anonymousAllowed": settings().allow_anonymous,
            "scopes": sorted(principal.scopes),
            "functions": None if principal.function_ids is None else sorted(principal.function_ids, key=str),
        }
