"""/secrets: the tenant's secrets. Values go in and never come out (functions read them)."""

from __future__ import annotations

import re

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from infra.secretbox import SecretBox
from store import secrets as store
from web.auth import current
from web.blueprint import Blueprint
from web.db import pool

blp = Blueprint(
    "secrets", __name__, url_prefix="/secrets", description="The tenant's secrets (write-only values)"
)

NAME_SHAPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
NAME_RULE = "a secret's name is 1-128 letters, digits or '_', not starting with a digit"
MAX_VALUE_BYTES = 64 * 1024


class SecretSchema(Schema):
    name = fields.String()
    version = fields.Integer(metadata={"description": "how many times the value was written"})
    createdAt = fields.DateTime(attribute="created_at")
    updatedAt = fields.DateTime(attribute="updated_at")


class SecretPutSchema(Schema):
    class Meta:
        unknown = RAISE

    value = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1),
        metadata={"description": f"the value (≤ {MAX_VALUE_BYTES} bytes of UTF-8); never shown again"},
    )


def box() -> SecretBox:
    """This process's cipher (PNIL_SECRET_KEY)."""
    return current_app.extensions["pnil.secret_box"]


def checked_name(name: str) -> str:
    """The name, or a 400 that says the rule."""
    if not NAME_SHAPE.match(name):
        abort(400, message=f"invalid secret name {name!r}: {NAME_RULE}")
    return name


@blp.route("")
class Secrets(MethodView):
    @blp.response(200, SecretSchema(many=True))
    def get(self):
        """The tenant's secrets: names, versions, times (never the values)."""
        with pool().connection() as conn:
            return store.list_all(conn, current().tenant_id)


@blp.route("/<string:name>")
class Secret(MethodView):
    @blp.response(200, SecretSchema)
    def get(self, name):
        """One secret's name, version and times (never the value)."""
        with pool().connection() as conn:
            found = store.get_meta(conn, current().tenant_id, checked_name(name))
        if found is None:
            abort(404, message=f"no secret {name!r}")
        return found

    @blp.arguments(SecretPutSchema)
    @blp.response(200, SecretSchema)
    def put(self, body, name):
        """Create or replace a secret (its next version); the answer never contains the value."""
        value = body["value"]
        if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
            abort(413, message=f"a secret's value is at most {MAX_VALUE_BYTES} bytes")
        if "\x00" in value:
            abort(400, message="a secret's value must not contain NUL characters")
        token = box().encrypt(value)  # SecretKeyError: 503 (web/errors.py)
        with pool().connection() as conn:
            return store.put(conn, current().tenant_id, checked_name(name), token)

    @blp.response(204)
    def delete(self, name):
        """Delete a secret; functions that declare it fail to read it from now on."""
        with pool().connection() as conn:
            if not store.delete(conn, current().tenant_id, checked_name(name)):
                abort(404, message=f"no secret {name!r}")
