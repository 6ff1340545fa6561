"""ANY /http/{tenant}/{httpPath}: run the tenant's HTTP function bound to that path and method.

The request becomes the function's input `{method, path, params, query, headers, body}`; an
output `{status, headers, body}` becomes the response, any other output is answered as JSON.
"""

from __future__ import annotations

import base64
import json
import logging
import threading

from flask import Response, current_app, g, jsonify, request
from flask.views import MethodView

from contracts.statuses import ExecutionStatus
from executions.fairness import TenantBusy
from executions.service import FunctionNotFound, NotRunnable, SlotsBusy, not_runnable_reason
from functions.routing import resolve
from infra import strict_json
from infra.logs import event
from store import http_bindings, tenants
from web.blueprint import Blueprint
from web.db import pool, settings
from web.errors import error_body
from web.executions.routes import service
from web.http_triggers.route_cache import RouteCache
from web.scopes import may_invoke

log = logging.getLogger(__name__)
blp = Blueprint(
    "http_triggers", __name__, url_prefix="/http", description="Public HTTP endpoints of HTTP functions"
)
ANY = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# Never forwarded, either way: they describe one connection, not the request or response.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)
EXECUTION_HEADER = "X-Pnil-Execution-Id"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CHANGES_ROUTES = frozenset({"functions", "admin"})  # the blueprints whose writes can change a route


def _forwardable(name: str) -> bool:
    lower = name.lower()
    return lower not in HOP_BY_HOP and not lower.startswith("x-pnil-")


def _body() -> tuple[object, bool]:
    """The request body for the function: parsed JSON, text, or base64 of bytes (and that flag)."""
    raw = request.get_data(cache=False)
    if not raw:
        return None, False
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        try:
            return strict_json.loads(raw.decode("utf-8")), False
        except (ValueError, UnicodeDecodeError):
            pass  # not JSON after all: hand it over as it came
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True
    if "\x00" in text:
        return base64.b64encode(raw).decode("ascii"), True
    return text, False


def _carries_pnil_key(value: str) -> bool:
    scheme, _, key = value.partition(" ")
    return scheme.lower() == "bearer" and tenants.well_formed(key.strip())


def _input(path: str, params: dict, strip_authorization: bool) -> dict:
    body, is_base64 = _body()
    # A pnil API key is never handed to a function, whether or not the endpoint asked for one.
    headers = {
        name.lower(): value
        for name, value in request.headers.items()
        if _forwardable(name)
        and not (name.lower() == "authorization" and (strip_authorization or _carries_pnil_key(value)))
    }
    query = {key: values if len(values) > 1 else values[0] for key, values in request.args.lists()}
    return {
        "method": request.method,
        "path": "/" + path,
        "params": params,
        "query": query,
        "headers": headers,
        "body": body,
        "isBase64Encoded": is_base64,
        # The client as this server sees it: behind PNIL_TRUSTED_PROXIES proxies, as they saw it.
        "sourceIp": request.remote_addr,
        "url": request.url,
    }


def _error(code: int, message: str, execution_id=None, headers: dict | None = None) -> Response:
    """A JSON error; public callers see only what the endpoint is willing to say."""
    status = {
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        401: "UNAUTHORIZED",
        429: "TOO_MANY_REQUESTS",
        502: "BAD_GATEWAY",
        503: "SERVICE_UNAVAILABLE",
        504: "GATEWAY_TIMEOUT",
    }[code]
    body = error_body(code, status, message)
    if execution_id is not None:
        body["executionId"] = str(execution_id)
    response = jsonify(body)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if execution_id is not None:
        response.headers[EXECUTION_HEADER] = str(execution_id)
    return response


# What a public caller is told when the function fails; the details are in the execution, for the
# function's owner (or in this answer, for a function with httpDetailedErrors).
FAILED_MESSAGE = "the function failed; its owner can look up this execution for the details"
TIMEOUT_MESSAGE = "the function did not answer in time; its owner can look up this execution"
UNAVAILABLE_MESSAGE = "this endpoint is unavailable"
BUSY_MESSAGE = "this endpoint is busy; retry shortly"


def _response(row: dict, detailed: bool) -> Response:
    """The HTTP answer for a finished execution."""
    execution_id = row["id"]
    if row["status"] == ExecutionStatus.TIMEOUT:
        detail = f"the function timed out: {row['error_message']}"
        return _error(504, detail if detailed else TIMEOUT_MESSAGE, execution_id)
    if row["status"] != ExecutionStatus.COMPLETED:
        detail = f"the function {row['status'].lower()}: {row['error_message']}"
        return _error(502, detail if detailed else FAILED_MESSAGE, execution_id)
    output = row["output"]
    if _is_response_shape(output):
        response = _shaped(output, execution_id, detailed)
    else:
        response = Response(
            json.dumps(output, ensure_ascii=False, separators=(",", ":")), mimetype="application/json"
        )
    response.headers[EXECUTION_HEADER] = str(execution_id)
    return response


def _is_response_shape(output: object) -> bool:
    """`{status?, headers?, body?}` with a numeric status if any: an HTTP response to build."""
    if not isinstance(output, dict) or not output or not set(output) <= {"status", "headers", "body"}:
        return False
    status = output.get("status", 200)
    return isinstance(status, int | float) and not isinstance(status, bool)


def _shaped(output: dict, execution_id, detailed: bool) -> Response:
    status = output.get("status", 200)
    headers = output.get("headers") or {}
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        detail = f"the function answered an invalid status {status!r}: use an integer 100-599"
        return _error(502, detail if detailed else FAILED_MESSAGE, execution_id)
    if not isinstance(headers, dict) or not all(isinstance(v, str | int | float) for v in headers.values()):
        detail = "the function answered invalid headers: use an object of strings"
        return _error(502, detail if detailed else FAILED_MESSAGE, execution_id)
    headers = {str(k): str(v) for k, v in headers.items() if _forwardable(str(k))}
    has_type = any(k.lower() == "content-type" for k in headers)
    body = output.get("body")
    if body is None:
        data, mimetype = b"", None
    elif isinstance(body, str):
        data, mimetype = body.encode("utf-8"), "text/plain; charset=utf-8"
    else:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        mimetype = "application/json"
    response = Response(data, status=status)
    if mimetype and not has_type:
        response.headers["Content-Type"] = mimetype
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _key_of_tenant(binding: dict) -> bool:
    """A key of the function's tenant that may run it: manage, admin, or invoke (limited to it or not)."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return False
    with pool().connection() as conn:
        principal = tenants.authenticate(conn, key.strip())
    return (
        principal is not None
        and principal.tenant_id == binding["tenant_id"]
        and may_invoke(principal, binding["id"])
    )


_routes_lock = threading.Lock()


def routes() -> RouteCache:
    """This worker process's route cache; its LISTEN thread starts on first use, after the fork."""
    ext = current_app.extensions
    if "pnil.http_routes" not in ext:
        with _routes_lock:
            if "pnil.http_routes" not in ext:
                ext["pnil.http_routes"] = RouteCache(pool().dsn, max_age_s=settings().http_route_cache_s)
    return ext["pnil.http_routes"]


def _load_bindings(slug: str) -> list[dict]:
    with pool().connection() as conn:
        return http_bindings.for_tenant_slug(conn, slug)


def serve(tenant: str, path: str = ""):
    """Resolve the binding, check it may run, run it synchronously, map the answer."""
    cached = routes().bindings(tenant, _load_bindings)
    found = resolve(cached, request.method, path)
    if found.binding is None or not_runnable_reason(found.binding):
        # Made (or made READY) elsewhere a moment ago: its NOTIFY may still be on its way.
        found = resolve(routes().bindings(tenant, _load_bindings, fresh=True), request.method, path)
    if found.binding is None:
        if found.allowed:
            allow = ", ".join(found.allowed)
            return _error(
                405, f"/{path} does not answer {request.method}; it answers {allow}", headers={"Allow": allow}
            )
        return _error(404, f"no HTTP function of tenant {tenant!r} is bound to /{path}")
    binding = found.binding
    if binding["http_auth"] == "key" and not _key_of_tenant(binding):
        return _error(
            401,
            "this endpoint needs an API key of its tenant allowed to invoke it: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": 'Bearer realm="pnil"'},
        )
    detailed = binding["http_detailed_errors"]
    reason = not_runnable_reason(binding)
    if reason:
        return _error(503, reason if detailed else UNAVAILABLE_MESSAGE, headers={"Retry-After": "5"})
    payload = _input(path, found.params or {}, strip_authorization=binding["http_auth"] == "key")
    trigger = {"method": request.method, "path": "/" + path, "httpPath": binding["http_path"]}
    try:
        row = service().execute(
            binding["tenant_id"], binding["id"], payload, trigger_type="HTTP", trigger_data=trigger
        )
    except FunctionNotFound:
        return _error(404, f"no HTTP function of tenant {tenant!r} is bound to /{path}")
    except NotRunnable as exc:
        return _error(503, str(exc) if detailed else UNAVAILABLE_MESSAGE, headers={"Retry-After": "5"})
    except (SlotsBusy, TenantBusy) as exc:
        return _error(429, str(exc) if detailed else BUSY_MESSAGE, headers={"Retry-After": "1"})
    event(
        log,
        "http_trigger.served",
        functionId=str(binding["id"]),
        executionId=str(row["id"]),
        status=row["status"],
    )
    return _response(row, detailed)


@blp.after_app_request
def _drop_routes_this_request_changed(response: Response) -> Response:
    """A write of this process drops its tenant's cached routes at once (read your writes);
    writes of other processes arrive by NOTIFY."""
    principal = getattr(g, "principal", None)
    if (
        principal is not None
        and request.method in WRITE_METHODS
        and request.blueprint in CHANGES_ROUTES
        and response.status_code < 400
        and "pnil.http_routes" in current_app.extensions
    ):
        current_app.extensions["pnil.http_routes"].invalidate(str(principal.tenant_id))
    return response


@blp.route("/<string:tenant>", methods=ANY, endpoint="root")
@blp.route("/<string:tenant>/<path:path>", methods=ANY)
class HttpTrigger(MethodView):
    """Any method: the tenant's HTTP function bound to the path answers."""

    @blp.doc(security=[])
    def get(self, tenant, path=""):
        """Run the HTTP function bound to this path and method (public unless httpAuth is key)."""
        return serve(tenant, path)

    post = put = patch = delete = options = get
