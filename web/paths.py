"""Path parameters: ids are UUIDs (a malformed one is a 404 that says so); a function is addressed
by its id or by its name."""

from __future__ import annotations

import uuid

from flask import Flask, request
from flask_smorest import Api, abort
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter


class IdConverter(BaseConverter):
    """A UUID path segment; anything else is a 404 naming the mistake."""

    regex = "[^/]+"

    def to_python(self, value: str) -> uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise NotFound(
                f"{value!r} is not an id: ids are UUIDs such as 123e4567-e89b-12d3-a456-426614174000"
            ) from None

    def to_url(self, value) -> str:
        return str(value)


class FunctionName(str):
    """A function path segment that is not a UUID: the function's name, resolved per tenant."""


class FunctionRefConverter(BaseConverter):
    """A function's id (UUID) or its name."""

    regex = "[^/]+"

    def to_python(self, value: str) -> uuid.UUID | FunctionName:
        try:
            return uuid.UUID(value)
        except ValueError:
            return FunctionName(value)

    def to_url(self, value) -> str:
        return str(value)


# A workflow's name as the OpenAPI document states it (web/workflows/named.py checks it): 1 to 200
# characters, not `runs`, no control character, no whitespace at either end.
WORKFLOW_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^(?!runs$)(?!\s)[^\x00-\x1f]*[^\x00-\x1f\s]$",
    "description": "the workflow's name (not `runs`)",
}


class WorkflowNameConverter(BaseConverter):
    """A workflow's name: any path segment but `runs` (which is /workflows/runs)."""

    regex = "(?!runs(?![^/]))[^/]+"


def install(app: Flask, api: Api) -> None:
    """Register the converters (documented as strings) and the name resolver.

    Call after web.auth.install: a name resolves within the caller's tenant.
    """
    app.url_map.converters["uuid"] = IdConverter
    app.url_map.converters["fn"] = FunctionRefConverter
    app.url_map.converters["workflow"] = WorkflowNameConverter
    api.register_converter(WorkflowNameConverter, lambda _: dict(WORKFLOW_NAME))
    api.register_converter(IdConverter, lambda _: {"type": "string", "format": "uuid"})
    api.register_converter(
        FunctionRefConverter,
        lambda _: {"type": "string", "description": "the function's id (a UUID) or its name"},
    )
    app.before_request(_resolve_function_name)


def _resolve_function_name() -> None:
    args = request.view_args or {}
    name = args.get("function_id")
    if not isinstance(name, FunctionName):
        return
    from store import functions as store
    from web.auth import current
    from web.db import pool

    with pool().connection() as conn:
        found = store.id_by_name(conn, current().tenant_id, str(name))
    if found is None:
        abort(
            404,
            message=f"function {str(name)!r} not found: address a function by its id (a UUID) or its name",
        )
    args["function_id"] = found
