"""A function's versions (list, source, diff, rollback) and its lifecycle state endpoint."""

from __future__ import annotations

import difflib
import uuid

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields, validate

from events import domain
from runner.contract import LANGUAGES
from store import functions as store
from store import lifecycle, staged
from tasks.publish import compile_or_reuse, compile_staged
from web.auth import current
from web.db import pool
from web.functions.routes import blp, check_sizes_and_caps, find_or_404, present
from web.functions.schemas import FunctionSchema


class VersionSchema(Schema):
    number = fields.Integer()
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


def _version_or_404(conn, function_id: uuid.UUID, number: int) -> dict:
    found = store.version(conn, current().tenant_id, function_id, number)
    if found is None:
        abort(404, message=f"function {function_id} has no version {number}")
    return found


@blp.route("/<fn:function_id>/versions")
class Versions(MethodView):
    @blp.response(200, VersionSchema(many=True))
    def get(self, function_id):
        """Every version, newest first, with its change description and compile outcome."""
        with pool().connection() as conn:
            find_or_404(conn, function_id)
            return store.versions(conn, current().tenant_id, function_id)

    @blp.arguments(StageSchema)
    @blp.response(200, FunctionSchema)
    def post(self, body, function_id):
        """Stage a new version: it compiles while the serving version keeps running, and serves only
        once READY (`pendingVersion` shows it until then, with its compile status and error). A
        function that has no READY version takes it at once, as PUT would."""
        check_sizes_and_caps(body)
        principal = current()
        with pool().connection() as conn, conn.transaction():
            row = find_or_404(conn, function_id, for_update=True)
            wanted = (body.get("language", row["language"]), body["source"])
            pending = staged.pending(conn, row)
            if pending is not None and (pending["language"], pending["source"]) == wanted:
                return present(row)  # already staged: its compile outcome stands
            if row["status"] != "READY":
                row, recompile = store.update(
                    conn,
                    row,
                    dict(zip(("language", "source"), wanted, strict=True)),
                    actor=principal.actor,
                    change_description=body.get("changeDescription"),
                )
                if recompile:
                    row, _ = compile_or_reuse(conn, row)
            elif (row["language"], row["source"]) == wanted:
                staged.drop(conn, row)  # back to what serves: nothing to stage
                row = store.get(conn, principal.tenant_id, function_id)
            else:
                staged.stage(
                    conn,
                    row,
                    *wanted,
                    actor=principal.actor,
                    change_description=body.get("changeDescription"),
                )
                row, _ = compile_staged(conn, store.get(conn, principal.tenant_id, function_id))
            domain.script_updated(conn, row, principal.actor)
        return present(row)


@blp.route("/<fn:function_id>/versions/<int:number>")
class VersionByNumber(MethodView):
    @blp.response(200, VersionSourceSchema)
    def get(self, function_id, number):
        """One version with its source."""
        with pool().connection() as conn:
            find_or_404(conn, function_id)
            return _version_or_404(conn, function_id, number)


@blp.route("/<fn:function_id>/versions/<int:a>/diff/<int:b>")
class VersionDiff(MethodView):
    @blp.response(200, DiffSchema)
    def get(self, function_id, a, b):
        """A unified diff from version a to version b (difflib)."""
        with pool().connection() as conn:
            find_or_404(conn, function_id)
            old, new = _version_or_404(conn, function_id, a), _version_or_404(conn, function_id, b)
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
        with pool().connection() as conn, conn.transaction():
            row = find_or_404(conn, function_id, for_update=True)
            old = _version_or_404(conn, function_id, body["version"])
            description = body.get("changeDescription") or f"rollback to version {body['version']}"
            row, _ = store.update(
                conn,
                row,
                {"source": old["source"], "language": old["language"]},
                actor=principal.actor,
                change_description=description,
                new_version=True,
            )
            row, _ = compile_or_reuse(conn, row)
            domain.script_updated(conn, row, principal.actor)
        return present(row)


@blp.route("/<fn:function_id>/state")
class State(MethodView):
    @blp.arguments(StateSchema)
    @blp.response(200, FunctionSchema)
    def post(self, body, function_id):
        """Move the function through its lifecycle; an illegal transition is 409 naming the allowed ones."""
        principal = current()
        with pool().connection() as conn, conn.transaction():
            row = find_or_404(conn, function_id, for_update=True)
            problem = lifecycle.transition_error(row["state"], body["state"])
            if problem:
                abort(409, message=problem)
            new, _ = store.update(
                conn, row, {"state": body["state"]}, actor=principal.actor, change_description=None
            )
            if new["state"] != row["state"]:
                domain.script_status_changed(conn, new, row["state"], principal.actor)
        return present(new)
