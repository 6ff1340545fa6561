"""/kv: the tenant's key-value store over REST, the same one its functions use (`pnil.kv`)."""

from __future__ import annotations

import json

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from hostapi.calls import MAX_KEY_BYTES, MAX_LIST, MAX_TTL_S, MAX_VALUE_BYTES
from store import kv, quotas
from web.auth import current
from web.blueprint import Blueprint
from web.db import pool, settings

blp = Blueprint("kv", __name__, url_prefix="/kv", description="The tenant's key-value store")


class EntrySchema(Schema):
    key = fields.String()
    value = fields.Raw(allow_none=True)


class PutSchema(Schema):
    class Meta:
        unknown = RAISE

    value = fields.Raw(
        required=True, allow_none=True, metadata={"description": f"any JSON, ≤ {MAX_VALUE_BYTES} bytes"}
    )
    ttl = fields.Float(
        load_default=None,
        validate=validate.Range(min=0, min_inclusive=False, max=MAX_TTL_S),
        metadata={"description": "seconds until the entry expires; absent: never", "exclusiveMinimum": True},
    )


class ListSchema(Schema):
    class Meta:
        unknown = RAISE

    prefix = fields.String(load_default="", validate=validate.Length(max=MAX_KEY_BYTES))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIST))


class KeysSchema(Schema):
    keys = fields.List(fields.String())


def _checked(key: str) -> str:
    if not 1 <= len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES or "\x00" in key:
        abort(400, message=f"a key is 1 to {MAX_KEY_BYTES} bytes of text without NUL")
    return key


@blp.route("")
class Keys(MethodView):
    @blp.arguments(ListSchema, location="query")
    @blp.response(200, KeysSchema)
    def get(self, query):
        """Keys starting with `prefix`, in order (`?prefix=&limit=`)."""
        with pool().connection() as conn:
            return {"keys": kv.list_keys(conn, current().tenant_id, query["prefix"], query["limit"])}


@blp.route("/<path:key>")
class Entry(MethodView):
    @blp.response(200, EntrySchema)
    def get(self, key):
        """One entry; 404 when absent or expired."""
        with pool().connection() as conn:
            found, value = kv.get(conn, current().tenant_id, _checked(key))
        if not found:
            abort(404, message=f"no key {key!r} in your key-value store")
        return {"key": key, "value": value}

    @blp.arguments(PutSchema)
    @blp.response(200, EntrySchema)
    @blp.alt_response(403, description="the key-value store is at its quota (maxKvKeys, maxKvBytes)")
    def put(self, body, key):
        """Create or replace an entry (`{"value": ..., "ttl"?: seconds}`)."""
        size = len(json.dumps(body["value"], ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > MAX_VALUE_BYTES:
            abort(413, message=f"the value is {size} bytes of JSON; the most is {MAX_VALUE_BYTES}")
        with pool().connection() as conn:
            quotas.check_kv(conn, current().tenant_id, settings().quotas, _checked(key), body["value"])
            kv.put(conn, current().tenant_id, key, body["value"], body["ttl"])
        return {"key": key, "value": body["value"]}

    @blp.response(204)
    def delete(self, key):
        """Delete an entry; 404 when there was none."""
        with pool().connection() as conn:
            if not kv.delete(conn, current().tenant_id, _checked(key)):
                abort(404, message=f"no key {key!r} in your key-value store")
