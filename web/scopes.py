"""What each API key scope may call: one table, checked before every route runs.

admin: everything (every tenant's /admin routes, /metrics). manage: every route of its tenant
but /admin. read: GETs only. invoke: run and queue functions, read and cancel executions; an
invoke key limited to functions reaches only those functions and their executions.
"""

from __future__ import annotations

import uuid

from flask import Flask, g, request
from flask_smorest import abort

from store import executions as execution_store
from store.tenants import Principal
from web.db import pool

READ_METHODS = frozenset({"GET", "HEAD"})
# Endpoint → the methods an invoke key may call there.
INVOKE = {
    "executions.Execute": frozenset({"POST"}),
    "executions.FunctionExecutions": frozenset({"GET", "HEAD", "POST"}),
    "executions.ExecutionById": frozenset({"GET", "HEAD"}),
    "executions.CancelExecution": frozenset({"POST"}),
}
EVERY_KEY = frozenset({"whoami.WhoAmI"})
ADMIN_ONLY_PREFIXES = ("admin.", "audit.")
ADMIN_ONLY = frozenset({"metrics.scrape"})


def install(app: Flask) -> None:
    """Check the caller's scopes (after web.auth and the function name resolver)."""
    app.before_request(_authorize)


def needs_admin(endpoint: str) -> bool:
    """Routes only an admin key reaches."""
    return endpoint in ADMIN_ONLY or endpoint.startswith(ADMIN_ONLY_PREFIXES)


def grant(principal: Principal, endpoint: str, method: str) -> str | None:
    """How the scopes allow this call: 'full', 'invoke' (check the function limit), or None."""
    scopes = principal.scopes
    if "admin" in scopes:
        return "full"
    if needs_admin(endpoint):
        return None
    if "manage" in scopes or endpoint in EVERY_KEY or (method in READ_METHODS and "read" in scopes):
        return "full"
    if "invoke" in scopes and method in INVOKE.get(endpoint, ()):
        return "invoke"
    return None


def may_invoke(principal: Principal, function_id: uuid.UUID) -> bool:
    """True when the key may run this function (its tenant's; an invoke key's limit)."""
    scopes = principal.scopes
    if scopes & {"admin", "manage"}:
        return True
    return "invoke" in scopes and (principal.function_ids is None or function_id in principal.function_ids)


def _authorize() -> None:
    rule = request.url_rule
    principal = getattr(g, "principal", None)
    if rule is None or principal is None:
        return None  # public path, or no route (404/405)
    endpoint = request.endpoint or ""
    how = grant(principal, endpoint, request.method)
    if how is None:
        if needs_admin(endpoint):
            abort(403, message="this endpoint needs an admin key: python -m web.keys create --admin NAME")
        have = ", ".join(sorted(principal.scopes))
        abort(403, message=f"this key's scopes ({have}) do not allow {request.method} {rule.rule}")
    if how == "invoke" and principal.function_ids is not None:
        args = request.view_args or {}
        function_id = args.get("function_id")
        if function_id is None and "execution_id" in args:
            with pool().connection() as conn:
                function_id = execution_store.function_of(conn, principal.tenant_id, args["execution_id"])
            if function_id is None:
                return None  # the route answers its 404
        if not isinstance(function_id, uuid.UUID) or function_id not in principal.function_ids:
            abort(403, message="this invoke key is limited to other functions")
    return None
