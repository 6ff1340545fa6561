"""POST /compile: a compile check of a source, nothing stored (for editors, CI and `pnil check`)."""

from __future__ import annotations

import threading

from flask import current_app
from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from compiler.compilers import Compilers
from compiler.errors import CompileError
from contracts.statuses import CompileStatus
from runner.contract import LANGUAGES
from web.blueprint import Blueprint
from web.db import settings
from web.functions.routes import check_sizes_and_caps

blp = Blueprint("compile", __name__, description="Check that a source compiles")

EXTENSION = "pnil.compile_check"
_lock = threading.Lock()


def _the_compilers() -> Compilers:
    """The app's compilers, made on the first check (AssemblyScript keeps one warm Node process)."""
    with _lock:
        compilers = current_app.extensions.get(EXTENSION)
        if compilers is None:
            compilers = Compilers(timeout_s=settings().compile_timeout_s, slots=1)
            current_app.extensions[EXTENSION] = compilers
        return compilers


class CompileCheckSchema(Schema):
    class Meta:
        unknown = RAISE

    language = fields.String(
        required=True,
        validate=validate.OneOf(LANGUAGES, error="unknown language; use one of: " + ", ".join(LANGUAGES)),
    )
    source = fields.String(required=True, validate=validate.Length(min=1, error="source must not be empty"))


class CompileOutcomeSchema(Schema):
    status = fields.String(metadata={"description": "READY (it compiles) or FAILED"})
    compileError = fields.String(
        attribute="compile_error",
        allow_none=True,
        metadata={"description": "the same error a function with this source would show"},
    )


@blp.route("/compile")
class CompileCheck(MethodView):
    @blp.arguments(CompileCheckSchema)
    @blp.response(200, CompileOutcomeSchema)
    @blp.alt_response(503, description="The compiler could not run now; try again")
    def post(self, body):
        """Compile a source as a function would be compiled and say whether it compiles; nothing is
        stored. A compile error is a 200 with status FAILED, like a function's."""
        check_sizes_and_caps(body)
        try:
            _the_compilers().compile(body["language"], body["source"])
        except CompileError as exc:
            return {"status": CompileStatus.FAILED, "compile_error": str(exc) or type(exc).__name__}
        return {"status": CompileStatus.READY, "compile_error": None}
