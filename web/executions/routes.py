"""Running functions (sync and queued), cancelling executions, reading execution history."""

from __future__ import annotations

import hashlib
import json
import threading

import psycopg
from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import abort

from contracts.statuses import ExecutionStatus
from executions.enqueue import enqueue_execution
from executions.fairness import SandboxAdmission
from executions.idempotency import recorded_execution
from executions.replay import replay
from executions.service import ExecutionService, check_runnable
from runner.sandbox.pool import RunnerPool
from store import execution_lists, execution_waits
from store import executions as store
from store import functions as functions_store
from web import audit
from web.auth import current
from web.blueprint import Blueprint
from web.db import pool, settings
from web.executions.schemas import (
    ExecuteRequestSchema,
    ExecutionFilterSchema,
    ExecutionSchema,
    QueueRequestSchema,
    ReplayRequestSchema,
    TenantExecutionFilterSchema,
    check_queue_times,
    execution_json,
)
from workflows import handover

blp = Blueprint("executions", __name__, description="Run functions and read their executions")
_service_lock = threading.Lock()
MAX_IDEMPOTENCY_KEY_CHARS = 255
# How long POST /executions/{id}/cancel waits for a RUNNING execution to end CANCELLED.
CANCEL_WAIT_S = 2.0


def service() -> ExecutionService:
    """This worker process's service; its runner pool starts on first use, after gunicorn forked."""
    ext = current_app.extensions
    if "pnil.executions" not in ext:
        with _service_lock:
            if "pnil.executions" not in ext:
                runners = RunnerPool(
                    settings().runner_pool_size, max_time_cap_ms=settings().max_execution_time_cap_ms
                )
                # One tenant's waiting calls leave four request threads to other tenants and /health;
                # its calls past that are refused at once rather than queue in front of theirs.
                admission = SandboxAdmission(
                    settings().runner_pool_size,
                    wait_s=settings().tenant_wait_s,
                    max_waiting=settings().web_threads - 4,
                )
                ext["pnil.executions"] = ExecutionService(
                    pool(),
                    runners,
                    slot_wait_s=settings().slot_wait_s,
                    admission=admission,
                    quotas=settings().quotas,
                    secret_box=ext["pnil.secret_box"],
                )
    return ext["pnil.executions"]


@blp.route("/functions/<fn:function_id>/execute")
class Execute(MethodView):
    @blp.arguments(ExecuteRequestSchema())
    @blp.response(200, ExecutionSchema)
    @blp.alt_response(400, description="function not READY or not ACTIVE, or input not a JSON object")
    @blp.alt_response(404, description="unknown function")
    @blp.alt_response(429, description="every concurrency slot stayed busy (Retry-After)")
    @blp.alt_response(409, description="Idempotency-Key already used with a different request")
    def post(self, body, function_id):
        """Run the function now and return its execution (COMPLETED, FAILED, TIMEOUT or CANCELLED).

        With `Idempotency-Key`, a retry returns the execution the key already started (waiting
        for its end) instead of running the function again."""
        tenant_id = current().tenant_id
        key = _idempotency_key()
        request_hash = _request_hash(function_id, body["input"], sync=True) if key else None
        if key is not None:
            recorded = _recorded_execution(tenant_id, key, request_hash)
            if recorded is not None:
                return jsonify(execution_json(recorded))
        try:
            row = service().execute(
                tenant_id,
                function_id,
                body["input"],
                trigger_type="API",
                idempotency_key=key,
                request_hash=request_hash,
                # Answered 200 once the end is recorded: the end's statement writes the audit line.
                audit=audit.line_of_this_request(200, str(function_id)),
            )
            if row.get("audited"):
                audit.recorded()
        except psycopg.errors.UniqueViolation:  # a concurrent request with this key started first
            row = _recorded_execution(tenant_id, key, request_hash)
        # A Response passes flask-smorest's dump untouched: the schema still documents it.
        return jsonify(execution_json(row))


def _request_hash(function_id, input_value, *, sync: bool = False, options: dict | None = None) -> str:
    """What a key is bound to; a sync execute's differs from a queued one's with the same input,
    a queued one's with other options (delay, expiry, retry policy) from one without."""
    parts = [str(function_id), input_value] + (["sync"] if sync else []) + ([options] if options else [])
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _recorded_execution(tenant_id, key: str, request_hash: str) -> dict | None:
    """The execution `key` already started, after it ended (or after the longest run allowed);
    None when the key is new. The first request may run in another process: the wait is on the
    execution's locks (`executions.idempotency`), not a poll."""
    wait_s = settings().max_execution_time_cap_ms / 1000.0 + 5.0
    with pool().connection() as conn:
        return recorded_execution(conn, tenant_id, key, request_hash, wait_s=wait_s)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        abort(400, message=f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    return key


@blp.route("/functions/<fn:function_id>/executions")
class FunctionExecutions(MethodView):
    @blp.arguments(ExecutionFilterSchema, location="query")
    @blp.response(200, ExecutionSchema(many=True))
    def get(self, page, function_id):
        """The function's executions, newest first (`?limit=&offset=&status=&triggerType=`)."""
        tenant_id = current().tenant_id
        with pool().connection() as conn:
            if functions_store.get(conn, tenant_id, function_id) is None:
                abort(404, message=f"function {function_id} not found")
            return execution_lists.list_for_function(
                conn,
                tenant_id,
                function_id,
                limit=page["limit"],
                offset=page["offset"],
                status=page["status"],
                trigger_type=page["triggerType"],
            )

    @blp.arguments(QueueRequestSchema())
    @blp.response(202, ExecutionSchema)
    @blp.alt_response(200, description="a repeat with the same Idempotency-Key: the same execution")
    @blp.alt_response(429, description="the tenant has its quota of queued executions (Retry-After)")
    @blp.alt_response(400, description="function not READY or not ACTIVE, or input not a JSON object")
    @blp.alt_response(404, description="unknown function")
    @blp.alt_response(409, description="Idempotency-Key already used with a different request")
    def post(self, body, function_id):
        """Queue an execution (PENDING); poll `Location` until it ends. Honours `Idempotency-Key`.

        `delayMs`/`runAt` delay its start (`scheduledFor`), `expiresAt`/`maxQueueMs` bound it,
        `retryPolicy` overrides fields of the function's for this execution and its retries."""
        tenant_id = current().tenant_id
        key = _idempotency_key()
        options = {k: v for k, v in body.items() if k != "input"}
        request_hash = _request_hash(function_id, body["input"], options=options)
        try:
            check_queue_times(body)
        except ValueError as exc:  # a request-shape rule, not a domain refusal
            abort(400, message=str(exc))
        with pool().connection() as conn:
            check_runnable(functions_store.get(conn, tenant_id, function_id), function_id)
            row, created = enqueue_execution(
                conn,
                tenant_id=tenant_id,
                function_id=function_id,
                input=body["input"],
                trigger_type="API",
                idempotency_key=key,
                request_hash=request_hash,
                quotas=settings().quotas,
                retry_policy=body.get("retryPolicy"),
                delay_ms=body.get("delayMs"),
                run_at=body.get("runAt"),
                expires_at=body.get("expiresAt"),
                max_queue_ms=body.get("maxQueueMs"),
            )
        if row is None:
            abort(404, message=f"function {function_id} not found")
        response = jsonify(execution_json(row))
        response.status_code = 202 if created else 200
        response.headers["Location"] = f"/executions/{row['id']}"
        return response


@blp.route("/executions")
class TenantExecutions(MethodView):
    @blp.arguments(TenantExecutionFilterSchema, location="query")
    @blp.response(200, ExecutionSchema(many=True))
    def get(self, query):
        """The tenant's executions across functions, newest first (`?status=&final=&firstAttemptId=`):
        `?status=FAILED&final=true` lists the failures that will not be retried any more."""
        with pool().connection() as conn:
            return execution_lists.list_for_tenant(
                conn,
                current().tenant_id,
                limit=query["limit"],
                offset=query["offset"],
                status=query["status"],
                final=query["final"],
                first_attempt_id=query["firstAttemptId"],
            )


@blp.route("/executions/<uuid:execution_id>")
class ExecutionById(MethodView):
    @blp.response(200, ExecutionSchema)
    def get(self, execution_id):
        """One execution: input, output, errorMessage, queued/started/completed times, metrics, logs."""
        with pool().connection() as conn:
            row = store.get(conn, current().tenant_id, execution_id)
        if row is None:
            abort(404, message=f"execution {execution_id} not found")
        return row


@blp.route("/executions/<uuid:execution_id>/replay")
class ReplayExecution(MethodView):
    @blp.arguments(ReplayRequestSchema(), required=False)
    @blp.response(202, ExecutionSchema)
    @blp.alt_response(400, description="the function is not READY or not ACTIVE")
    @blp.alt_response(404, description="unknown execution")
    @blp.alt_response(409, description="still PENDING or RUNNING, or its version is no longer live")
    @blp.alt_response(429, description="the tenant has its quota of queued executions (Retry-After)")
    def post(self, body, execution_id):
        """Queue a new execution of a finished one (`replayOf`): same input unless `input` is given,
        the same version (`version: same`, while it is live) or the `latest`."""
        body = body or {}
        with pool().connection() as conn:
            row = replay(
                conn,
                current().tenant_id,
                execution_id,
                version=body.get("version", "same"),
                input=body.get("input"),
                quotas=settings().quotas,
            )
        response = jsonify(execution_json(row))
        response.status_code = 202
        response.headers["Location"] = f"/executions/{row['id']}"
        return response


@blp.route("/executions/<uuid:execution_id>/cancel")
class CancelExecution(MethodView):
    @blp.response(200, ExecutionSchema)
    @blp.alt_response(404, description="unknown execution")
    @blp.alt_response(409, description="the execution already ended")
    def post(self, execution_id):
        """Cancel a PENDING execution (it never starts) or stop a RUNNING one (ends CANCELLED)."""
        tenant_id = current().tenant_id
        with pool().connection() as conn:
            with conn.transaction():  # a workflow step cancelled while PENDING hands over with it
                status = store.request_cancel(conn, tenant_id, execution_id)
                row = store.get(conn, tenant_id, execution_id)
                if status == ExecutionStatus.CANCELLED and row is not None:
                    handover.step_ended(conn, row)
            if row is None:
                abort(404, message=f"execution {execution_id} not found")
            if status is None:
                abort(
                    409,
                    message=f"execution {execution_id} already ended ({row['status']}); nothing to cancel",
                )
            if (
                row["status"] == ExecutionStatus.RUNNING
            ):  # wait for the process running it to record CANCELLED
                execution_waits.wait_until_ended(conn, tenant_id, execution_id, timeout_s=CANCEL_WAIT_S)
                row = store.get(conn, tenant_id, execution_id)
        return jsonify(execution_json(row))
