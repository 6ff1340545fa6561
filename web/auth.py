"""`Authorization: Bearer <key>` selects the tenant of every request."""

from __future__ import annotations

from flask import Flask, g, request
from flask_smorest import abort

from store import tenants
from store.tenants import Principal
from web.db import pool, settings

PUBLIC_PATHS = ("/", "/health", "/openapi.json", "/docs", "/favicon.ico")


def install(app: Flask) -> None:
    """Authenticate every request except the public ones."""
    app.before_request(_authenticate)


def current() -> Principal:
    """The principal of this request."""
    return g.principal


def require_admin() -> None:
    """Abort unless the caller holds an admin key (anonymous access never does)."""
    if not current().is_admin:
        abort(403, message="this endpoint needs an admin key: python -m web.keys create --admin NAME")


def _unauthorized(message: str):
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="pnil"'})


def _authenticate() -> None:
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(("/docs/", "/console")):
        return None
    if path == "/metrics" and settings().metrics_public:
        return None
    if path.startswith("/http/"):
        return None  # HTTP triggers are public, or check a key of their own tenant (httpAuth: key)
    if request.url_rule is None:
        # No such route (404) or method (405): say that, whoever asks; nothing is revealed.
        return None
    header = request.headers.get("Authorization")
    if header is None:
        if settings().allow_anonymous:
            g.principal = tenants.ANONYMOUS
            return None
        _unauthorized(
            "missing API key: send Authorization: Bearer <key> "
            "(create one with python -m web.keys create TENANT)"
        )
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        _unauthorized("malformed Authorization header: expected 'Bearer <key>'")
    with pool().connection() as conn:
        principal = tenants.authenticate(conn, key.strip())
    if principal is None:
        _unauthorized("invalid, revoked or expired API key")
    g.principal = principal
    return None
