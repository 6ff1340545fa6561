"""The Flask application factory."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from functions.service import FunctionService
from hostapi.secrets import check_key
from infra.database import GENERIC_PLANS, ForkSafePool
from infra.logs import configure_logging
from infra.secretbox import SecretBox
from infra.settings import Settings
from migrations import require_current_schema
from web import docs
from web.errors import register_error_handlers
from web.flask_app import PnilFlask


def create_app(settings: Settings | None = None) -> Flask:
    """Build the API; settings come from the environment unless given (tests give them)."""
    from_env = settings is None
    if settings is None:
        settings = Settings.from_env().for_process("web")
        require_current_schema(settings.database_url, "web")  # gunicorn reports the refusal
        configure_logging("web", settings.log_level, settings.log_format)
    app = PnilFlask("pnil")
    if settings.trusted_proxies:
        # X-Forwarded-For/-Proto/-Host from that many proxies in front (nginx: 1) are believed:
        # request.remote_addr, the scheme and host of Location headers and HTTP-trigger request data.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    app.config.update(
        API_TITLE="pnil",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Served by pnil itself from the pinned npm package: the docs work without internet access.
        OPENAPI_SWAGGER_UI_URL=docs.ASSETS_URL,
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "an API key: python -m web.keys create TENANT",
                    }
                }
            },
            # With anonymous access on, a request without a key is valid too ({}: no scheme).
            "security": [{"bearerAuth": []}] + ([{}] if settings.allow_anonymous else []),
        },
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.extensions["pnil.settings"] = settings
    app.extensions["pnil.secret_box"] = SecretBox(settings.secret_key, settings.secret_keys_previous)
    app.extensions["pnil.db"] = ForkSafePool(
        settings.database_url,
        max_size=settings.web_pool_size,
        name="web",
        timeout_s=settings.db_timeout_s,
        session=GENERIC_PLANS,
    )
    app.extensions["pnil.functions"] = FunctionService(
        app.extensions["pnil.db"],
        max_source_bytes=settings.max_source_bytes,
        caps={
            "maxExecutionTimeMs": settings.max_execution_time_cap_ms,
            "maxMemoryBytes": settings.max_memory_cap_bytes,
            "maxOutputSizeBytes": settings.max_output_cap_bytes,
        },
        quotas=settings.quotas,
        event_retention_days=settings.retention.event_days,
    )
    if from_env:  # a real process (gunicorn): refuse to start without the key of stored secrets
        with app.extensions["pnil.db"].connection() as conn:
            check_key(conn, app.extensions["pnil.secret_box"])
    api = Api(app)
    app.register_blueprint(docs.blp)
    register_error_handlers(app)

    from web import (
        admin,
        audit,
        auth,
        compile_check,
        console,
        events,
        executions,
        functions,
        health,
        kv,
        openapi_rules,
        paths,
        request_limits,
        schedule_preview,
        scopes,
        whoami,
        workflows,
    )
    from web import metrics as metrics_routes
    from web.http_triggers import routes as http_trigger_routes
    from web.secrets import routes as secret_routes

    metrics_routes.install(app)  # first: its timer also covers authentication
    request_limits.install(app)  # then: nothing reads an oversized request
    app.register_blueprint(metrics_routes.blp)
    auth.install(app)
    paths.install(app, api)
    scopes.install(app)  # after the name resolver: a limited key's check needs the function's id
    audit.install(app)
    api.register_blueprint(health.blp)
    api.register_blueprint(whoami.blp)
    api.register_blueprint(schedule_preview.blp)
    app.register_blueprint(console.blp)
    for blueprint in (
        functions.blp,
        compile_check.blp,
        admin.blp,
        audit.blp,
        executions.blp,
        events.blp,
        kv.blp,
        secret_routes.blp,
        http_trigger_routes.blp,
        workflows.blp,
    ):
        api.register_blueprint(blueprint)
    openapi_rules.install(api, settings)  # last: rules of every registered route
    return app
