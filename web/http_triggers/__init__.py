"""HTTP triggers: a tenant's HTTP functions served at /http/{tenant}/{httpPath}."""

from web.http_triggers.routes import blp

__all__ = ["blp"]
