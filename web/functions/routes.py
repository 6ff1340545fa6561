"""/functions: register, list, read, update, delete (projectNIL contract); HTTP in and out of
`functions.service.FunctionService` (its refusals become answers in `web/errors.py`)."""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from functions.service import FunctionService
from infra import limits, retry_policy
from web.auth import current
from web.blueprint import Blueprint
from web.functions.schemas import (
    FunctionCreateSchema,
    FunctionFilterSchema,
    FunctionSchema,
    FunctionUpdateSchema,
)

blp = Blueprint("functions", __name__, url_prefix="/functions", description="Register and manage functions")


def present(row: dict) -> dict:
    """A stored function as the API shows it."""
    return {
        **row,
        "resource_limits": limits.effective(row["resource_limits"]),
        "retry_policy": retry_policy.effective(row.get("retry_policy")),
    }


def service() -> FunctionService:
    """This app's function service."""
    return current_app.extensions["pnil.functions"]


def check_sizes_and_caps(data: dict) -> None:
    """413 for a source over the limit, 400 for resource limits over the operator's caps."""
    service().check_sizes_and_caps(data)


@blp.route("")
class Functions(MethodView):
    @blp.arguments(FunctionCreateSchema)
    @blp.response(201, FunctionSchema)
    @blp.alt_response(403, description="the tenant has its quota of functions (maxFunctions)")
    def post(self, data):
        """Register a function; it compiles in the background (status PENDING)."""
        principal = current()
        return present(service().register(principal.tenant_id, principal.actor, data))

    @blp.arguments(FunctionFilterSchema, location="query")
    @blp.response(200, FunctionSchema(many=True))
    def get(self, query):
        """List the caller's functions, newest first (`?limit=&offset=&name=&state=&type=&tag=&language=`)."""
        rows = service().list_page(
            current().tenant_id,
            limit=query["limit"],
            offset=query["offset"],
            name=query["name"],
            state=query["state"],
            trigger_type=query["type"],
            language=query["language"],
            tags=query["tag"],
        )
        return [present(r) for r in rows]


@blp.route("/<fn:function_id>")
class FunctionById(MethodView):
    @blp.response(200, FunctionSchema)
    def get(self, function_id):
        """A function with its source, status and compileError."""
        return present(service().get(current().tenant_id, function_id))

    @blp.arguments(FunctionUpdateSchema)
    @blp.response(200, FunctionSchema)
    def put(self, data, function_id):
        """Update a function; a new source or language is a new version and recompiles."""
        if not request.get_data(cache=True).strip():
            abort(400, message='send a JSON object of the fields to change, e.g. {"source": "..."}')
        principal = current()
        return present(service().update(principal.tenant_id, principal.actor, function_id, data))

    @blp.response(204)
    def delete(self, function_id):
        """Delete a function with its versions and executions."""
        principal = current()
        service().delete(principal.tenant_id, principal.actor, function_id)
