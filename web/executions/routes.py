"""Executing functions (flows 3–5) and reading execution history."""

from __future__ import annotations

import threading

from flask import current_app, jsonify
from flask.views import MethodView
from flask_smorest import abort

from runner.pool import RunnerPool
from store import executions as store
from store import functions as functions_store
from tasks.execution import Executor, FunctionNotFound, NotRunnable
from web.auth import current
from web.blueprint import Blueprint
from web.db import pool, settings
from web.executions.schemas import ExecuteRequestSchema, ExecutionSchema, execution_json
from web.functions.schemas import PageSchema

blp = Blueprint("executions", __name__, description="Run functions and read their executions")
_executor_lock = threading.Lock()


def executor() -> Executor:
    """This worker process's executor; its runner pool starts on first use, after gunicorn forked."""
    ext = current_app.extensions
    if "pnil.executor" not in ext:
        with _executor_lock:
            if "pnil.executor" not in ext:
                runners = RunnerPool(
                    settings().runner_pool_size, max_time_cap_ms=settings().max_execution_time_cap_ms
                )
                ext["pnil.executor"] = Executor(pool(), runners)
    return ext["pnil.executor"]


@blp.route("/functions/<uuid:function_id>/execute")
class Execute(MethodView):
    @blp.arguments(ExecuteRequestSchema())
    @blp.response(200, ExecutionSchema)
    @blp.alt_response(400, description="function not READY or not ACTIVE, or input not a JSON object")
    @blp.alt_response(404, description="unknown function")
    def post(self, body, function_id):
        """Run the function now and return its execution (COMPLETED, FAILED or TIMEOUT)."""
        try:
            row = executor().execute(current().tenant_id, function_id, body["input"], trigger_type="API")
        except FunctionNotFound as exc:
            abort(404, message=str(exc))
        except NotRunnable as exc:
            abort(400, message=str(exc))
        # A Response passes flask-smorest's dump untouched: the schema still documents it.
        return jsonify(execution_json(row))


@blp.route("/functions/<uuid:function_id>/executions")
class FunctionExecutions(MethodView):
    @blp.arguments(PageSchema, location="query")
    @blp.response(200, ExecutionSchema(many=True))
    def get(self, page, function_id):
        """The function's executions, newest first (`?limit=&offset=`)."""
        tenant_id = current().tenant_id
        with pool().connection() as conn:
            if functions_store.get(conn, tenant_id, function_id) is None:
                abort(404, message=f"function {function_id} not found")
            return store.list_for_function(conn, tenant_id, function_id, **page)


@blp.route("/executions/<uuid:execution_id>")
class ExecutionById(MethodView):
    @blp.response(200, ExecutionSchema)
    def get(self, execution_id):
        """One execution with input, output, errorMessage, times, metrics and logs."""
        with pool().connection() as conn:
            row = store.get(conn, current().tenant_id, execution_id)
        if row is None:
            abort(404, message=f"execution {execution_id} not found")
        return row
