"""/functions: register, list, read, update, delete (projectNIL contract)."""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager

import psycopg
from flask import request
from flask.views import MethodView
from flask_smorest import abort

from events import domain
from infra import limits, retry_policy
from infra.logs import event
from store import functions as store
from store import http_bindings, lifecycle, quotas
from store import secrets as secret_store
from tasks.publish import compile_or_reuse
from web.auth import current
from web.blueprint import Blueprint
from web.db import pool, settings
from web.functions.schemas import (
    FunctionCreateSchema,
    FunctionFilterSchema,
    FunctionSchema,
    FunctionUpdateSchema,
)
from web.http_triggers import routing

log = logging.getLogger(__name__)
blp = Blueprint("functions", __name__, url_prefix="/functions", description="Register and manage functions")


def present(row: dict) -> dict:
    """A stored function as the API shows it."""
    return {
        **row,
        "resource_limits": limits.effective(row["resource_limits"]),
        "retry_policy": retry_policy.effective(row.get("retry_policy")),
    }


def check_sizes_and_caps(data: dict) -> None:
    source = data.get("source")
    cap = settings().max_source_bytes
    if source is not None and len(source.encode()) > cap:
        abort(413, message=f"source is larger than the limit of {cap} bytes")
    caps = {
        "maxExecutionTimeMs": settings().max_execution_time_cap_ms,
        "maxMemoryBytes": settings().max_memory_cap_bytes,
        "maxOutputSizeBytes": settings().max_output_cap_bytes,
    }
    problems = limits.over_caps(data.get("resource_limits") or {}, caps)
    if problems:
        abort(400, message="; ".join(problems))


def find_or_404(conn, function_id: uuid.UUID, *, for_update: bool = False) -> dict:
    """The caller's function, or a 404 (also for another tenant's: existence does not leak)."""
    row = store.get(conn, current().tenant_id, function_id, for_update=for_update)
    if row is None:
        abort(404, message=f"function {function_id} not found")
    return row


@blp.route("")
class Functions(MethodView):
    @blp.arguments(FunctionCreateSchema)
    @blp.response(201, FunctionSchema)
    @blp.alt_response(403, description="the tenant has its quota of functions (maxFunctions)")
    def post(self, data):
        """Register a function; it compiles in the background (status PENDING)."""
        check_sizes_and_caps(data)
        principal = current()
        description = data.pop("change_description", None)
        with pool().connection() as conn, conn.transaction():
            _check_secrets_exist(conn, principal.tenant_id, data)
            _check_http_binding(conn, principal.tenant_id, None, data)
            _check_name_free(conn, principal.tenant_id, None, data["name"])
            quotas.check_functions(conn, principal.tenant_id, settings().quotas)
            with _name_clash_is_409(data["name"]):
                row = store.insert(
                    conn, principal.tenant_id, data, actor=principal.actor, change_description=description
                )
            row, reused = compile_or_reuse(conn, row)
            domain.script_created(conn, row)
        event(
            log,
            "function.created",
            functionId=str(row["id"]),
            language=row["language"],
            tenantId=str(row["tenant_id"]),
        )
        _log_compile(row, reused)
        return present(row)

    @blp.arguments(FunctionFilterSchema, location="query")
    @blp.response(200, FunctionSchema(many=True))
    def get(self, query):
        """List the caller's functions, newest first (`?limit=&offset=&name=&state=&type=&tag=&language=`)."""
        with pool().connection() as conn:
            rows = store.list_page(
                conn,
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
        with pool().connection() as conn:
            return present(find_or_404(conn, function_id))

    @blp.arguments(FunctionUpdateSchema)
    @blp.response(200, FunctionSchema)
    def put(self, data, function_id):
        """Update a function; a new source or language is a new version and recompiles."""
        if not request.get_data(cache=True).strip():
            abort(400, message='send a JSON object of the fields to change, e.g. {"source": "..."}')
        check_sizes_and_caps(data)
        principal = current()
        description = data.pop("change_description", None)
        with pool().connection() as conn, conn.transaction():
            current_row = find_or_404(conn, function_id, for_update=True)
            _check_trigger_consistency({**current_row, **data})
            _check_secrets_exist(conn, principal.tenant_id, data)
            _check_http_binding(conn, principal.tenant_id, function_id, {**current_row, **data})
            if "state" in data:
                problem = lifecycle.transition_error(current_row["state"], data["state"])
                if problem:
                    abort(409, message=problem)
            if data.get("name", current_row["name"]) != current_row["name"]:
                _check_name_free(conn, principal.tenant_id, function_id, data["name"])
            with _name_clash_is_409(data.get("name", "")):
                row, recompile = store.update(
                    conn, current_row, data, actor=principal.actor, change_description=description
                )
            reused = False
            if recompile:
                row, reused = compile_or_reuse(conn, row)
            domain.script_updated(conn, row, principal.actor)
            if row["state"] != current_row["state"]:
                domain.script_status_changed(conn, row, current_row["state"], principal.actor)
        if recompile:
            _log_compile(row, reused)
        event(
            log, "function.updated", functionId=str(row["id"]), version=row["revision"], recompile=recompile
        )
        return present(row)

    @blp.response(204)
    def delete(self, function_id):
        """Delete a function with its versions and executions."""
        principal = current()
        with pool().connection() as conn, conn.transaction():
            if not store.delete(conn, principal.tenant_id, function_id):
                abort(404, message=f"function {function_id} not found")
            domain.script_deleted(conn, principal.tenant_id, function_id, principal.actor)
        event(log, "function.deleted", functionId=str(function_id))


def _log_compile(row: dict, reused: bool) -> None:
    if reused:
        event(log, "compilation.reused", functionId=str(row["id"]), revision=row["revision"])
    else:
        event(log, "compilation.job.published", functionId=str(row["id"]), revision=row["revision"])


def _check_name_free(conn, tenant_id, function_id, name: str) -> None:
    """409 naming the function that already has this name in the tenant."""
    holder = store.id_by_name(conn, tenant_id, name)
    if holder is not None and holder != function_id:
        abort(409, message=f"a function named {name!r} already exists (id {holder}); choose another name")


@contextmanager
def _name_clash_is_409(name: str):
    """A concurrent request that took the name first: the same 409 as the check above."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name != "functions_tenant_name":
            raise
        abort(409, message=f"a function named {name!r} already exists; choose another name")


def _check_http_binding(conn, tenant_id, function_id, merged: dict) -> None:
    """409 when an HTTP function's path and methods overlap another binding of the tenant."""
    if (
        merged.get("trigger_type") != "HTTP"
        or not merged.get("http_path")
        or merged.get("state") == "ARCHIVED"
    ):
        return
    for other in http_bindings.others_locked(conn, tenant_id, function_id):
        if routing.overlaps(
            merged["http_path"], merged.get("http_methods"), other["http_path"], other["http_methods"]
        ):
            abort(
                409,
                message=f"httpPath {merged['http_path']} overlaps function {other['id']} ({other['name']}) "
                f"bound to {other['http_path']} for the same method; choose another path or other methods",
            )


def _check_secrets_exist(conn, tenant_id, data: dict) -> None:
    names = data.get("secrets")
    if names:
        data["secrets"] = names = list(dict.fromkeys(names))  # each name once, in the order given
        unknown = secret_store.missing(conn, tenant_id, names)
        if unknown:
            listed = ", ".join(unknown)
            abort(400, message=f"unknown secret(s) {listed}: create each with PUT /secrets/NAME first")


def _check_trigger_consistency(merged: dict) -> None:
    kind = merged.get("trigger_type")
    needs = {"SCHEDULED": ("cron_expression", "cronExpression"), "HTTP": ("http_path", "httpPath")}
    if kind in needs and not merged.get(needs[kind][0]):
        abort(400, message=f"a {kind} function needs {needs[kind][1]}")
    if kind == "EVENT" and not merged.get("event_types"):
        abort(400, message="an EVENT function needs at least one event type")
