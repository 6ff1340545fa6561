"""Every error leaves the API as JSON `{code, status, message, errors?}`; never HTML, never a trace."""

from __future__ import annotations

import logging

import psycopg
from flask import Flask, current_app, jsonify, request
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from compiler.errors import CompilerUnavailable
from executions import enqueue, fairness, replay
from executions import service as executions
from functions import errors as functions
from infra.logs import event
from infra.secretbox import SecretKeyError
from store.quotas import QuotaExceeded
from store.tenants import InvalidTenantRequest
from workflows import definitions, runs
from workflows.canvas import CanvasError

log = logging.getLogger(__name__)


# The one table of domain refusals and their HTTP answers: (status code, extra headers). A route
# lets these exceptions through; the message is the exception's own (what happened, what to do).
DOMAIN_ERRORS: dict[type[Exception], tuple[int, dict[str, str]]] = {
    functions.FunctionNotFound: (404, {}),
    functions.VersionNotFound: (404, {}),
    functions.InvalidFunction: (400, {}),
    functions.SourceTooLarge: (413, {}),
    functions.FunctionConflict: (409, {}),
    executions.FunctionNotFound: (404, {}),
    executions.NotRunnable: (400, {}),
    executions.SlotsBusy: (429, {"Retry-After": "1"}),
    fairness.TenantBusy: (429, {"Retry-After": "1"}),
    enqueue.IdempotencyConflict: (409, {}),
    replay.ExecutionNotFound: (404, {}),
    replay.NotReplayable: (409, {}),
    definitions.WorkflowNotFound: (404, {}),
    runs.RunNotFound: (404, {}),
    runs.RunFinished: (409, {}),
    CanvasError: (400, {}),  # errors.pointer names the offending node
    InvalidTenantRequest: (400, {}),
    SecretKeyError: (503, {}),
    CompilerUnavailable: (503, {}),
}


def error_body(code: int, status: str, message: str, errors=None):
    """The documented error shape."""
    body = {"code": code, "status": status, "message": message}
    if errors:
        body["errors"] = errors
    return body


def register_error_handlers(app: Flask) -> None:
    """JSON for HTTP errors (flask-smorest's abort included) and for anything unexpected."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        message = exc.description or exc.name
        if isinstance(exc, RequestEntityTooLarge):
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body is larger than the limit of {limit} bytes"
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            allowed = ", ".join(sorted(m for m in exc.valid_methods if m not in ("HEAD", "OPTIONS")))
            message = f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
        data = getattr(exc, "data", None) or {}
        if "message" in data:
            message = data["message"]
        errors = data.get("errors")
        if exc.code == 400 and "Failed to decode JSON" in (exc.description or ""):
            message = "request body is not valid JSON: send a JSON object with Content-Type: application/json"
        response = jsonify(error_body(exc.code, exc.name.upper().replace(" ", "_"), message, errors))
        response.status_code = exc.code
        for name, value in exc.get_headers() if exc.code == 405 else []:
            if name.lower() == "allow":
                response.headers["Allow"] = value
        # Headers given to abort() (WWW-Authenticate on a 401) belong on the response.
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response

    def domain_error(exc: Exception):
        code, headers = next(v for k, v in DOMAIN_ERRORS.items() if isinstance(exc, k))
        status = HTTP_STATUS_CODES[code].upper().replace(" ", "_")
        message = str(exc)
        if isinstance(exc, CompilerUnavailable):
            event(log, "compile.check.unavailable", level=logging.ERROR, error=message)
            message = f"the compiler could not run: {message}; try again"
        errors = {"pointer": exc.pointer} if isinstance(exc, CanvasError) else None
        response = jsonify(error_body(code, status, message, errors))
        response.status_code = code
        response.headers.update(headers)
        return response

    for kind in DOMAIN_ERRORS:
        app.register_error_handler(kind, domain_error)

    @app.errorhandler(QuotaExceeded)
    def quota_exceeded(exc: QuotaExceeded):
        # Waiting helps (queued executions drain): 429 with Retry-After; else the tenant must
        # delete something or have the quota raised: 403.
        code, status = (429, "TOO_MANY_REQUESTS") if exc.retry_after_s else (403, "FORBIDDEN")
        response = jsonify(error_body(code, status, str(exc), {"quota": exc.quota, "limit": exc.limit}))
        response.status_code = code
        if exc.retry_after_s:
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(exc: Exception):
        event(log, "request.database_unavailable", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}")
        # After a database restart the pool's idle connections are broken: replace them now
        # rather than fail one request per connection.
        current_app.extensions["pnil.db"].check()
        response = jsonify(
            error_body(503, "SERVICE_UNAVAILABLE", "the database is unavailable; try again shortly")
        )
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        event(log, "request.failed", level=logging.ERROR, error=f"{type(exc).__name__}: {exc}", exc_info=True)
        response = jsonify(
            error_body(
                500,
                "INTERNAL_SERVER_ERROR",
                "the server failed to handle this request; it was logged, try again",
            )
        )
        response.status_code = 500
        return response
