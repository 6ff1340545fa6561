"""A function's versions (list, source, diff, rollback) and its lifecycle state endpoint."""

from __future__ import annotations

import difflib

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from runner.contract import LANGUAGES
from store import lifecycle
from web.auth import current
from web.functions.routes import blp, present, service
from web.functions.schemas import FunctionSchema


class VersionSchema(Schema):
    number = fields.Integer(attribute="version")
    language = fields.String()
    changeDescription = fields.String(attribute="change_description", allow_none=True)
    createdBy = fields.String(attribute="created_by", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")
    status = fields.String(
        attribute="compile_status", allow_none=True, metadata={"description": "PENDING, READY or FAILED"}
    )
    compileError = fields.String(attribute="compile_error", allow_none=True)


class VersionSourceSchema(VersionSchema):
    source = fields.String()


class DiffSchema(Schema):
    diff = fields.String(
        metadata={"description": "unified diff of the two versions' sources (empty when equal)"}
    )


class RollbackSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    changeDescription = fields.String(validate=validate.Length(max=1000))


class StageSchema(Schema):
    class Meta:
        unknown = RAISE

    language = fields.String(
        validate=validate.OneOf(LANGUAGES, error="unknown language; use one of: " + ", ".join(LANGUAGES)),
        metadata={"description": "default: the function's current language"},
    )
    source = fields.String(required=True, validate=validate.Length(min=1, error="source must not be empty"))
    changeDescription = fields.String(validate=validate.Length(max=1000))


class StateSchema(Schema):
    class Meta:
        unknown = RAISE

    state = fields.String(
        required=True,
        validate=validate.OneOf(
            lifecycle.STATES, error="unknown state; use one of: " + ", ".join(lifecycle.STATES)
        ),
    )


@blp.route("/<fn:function_id>/versions")
class Versions(MethodView):
    @blp.response(200, VersionSchema(many=True))
    def get(self, function_id):
        """Every version, newest first, with its change description and compile outcome."""
        return service().versions(current().tenant_id, function_id)

    @blp.arguments(StageSchema)
    @blp.response(200, FunctionSchema)
    def post(self, body, function_id):
        """Stage a new version: it compiles while the serving version keeps running, and serves only
        once READY (`pendingVersion` shows it until then, with its compile status and error). A
        function that has no READY version takes it at once, as PUT would."""
        principal = current()
        row = service().stage(
            principal.tenant_id,
            principal.actor,
            function_id,
            source=body["source"],
            language=body.get("language"),
            change_description=body.get("changeDescription"),
        )
        return present(row)


@blp.route("/<fn:function_id>/versions/<int:number>")
class VersionByNumber(MethodView):
    @blp.response(200, VersionSourceSchema)
    def get(self, function_id, number):
        """One version with its source."""
        return service().version(current().tenant_id, function_id, number)


@blp.route("/<fn:function_id>/versions/<int:a>/diff/<int:b>")
class VersionDiff(MethodView):
    @blp.response(200, DiffSchema)
    def get(self, function_id, a, b):
        """A unified diff from version a to version b (difflib)."""
        tenant_id = current().tenant_id
        old, new = service().version(tenant_id, function_id, a), service().version(tenant_id, function_id, b)
        lines = difflib.unified_diff(
            old["source"].splitlines(keepends=True),
            new["source"].splitlines(keepends=True),
            fromfile=f"version {a} ({old['language']})",
            tofile=f"version {b} ({new['language']})",
        )
        return {"diff": "".join(line if line.endswith("\n") else line + "\n" for line in lines)}


@blp.route("/<fn:function_id>/rollback")
class Rollback(MethodView):
    @blp.arguments(RollbackSchema)
    @blp.response(200, FunctionSchema)
    def post(self, body, function_id):
        """A new version with an earlier version's source and language; READY at once when that source
        compiled before (its stored artifact is reused), else PENDING until it compiles."""
        principal = current()
        row = service().rollback(
            principal.tenant_id,
            principal.actor,
            function_id,
            body["version"],
            change_description=body.get("changeDescription"),
        )
        return present(row)


@blp.route("/<fn:function_id>/state")
class State(MethodView):
    @blp.arguments(StateSchema)
    @blp.response(200, FunctionSchema)
    def post(self, body, function_id):
        """Move the function through its lifecycle; an illegal transition is 409 naming the allowed ones."""
        principal = current()
        return present(service().set_state(principal.tenant_id, principal.actor, function_id, body["state"]))
