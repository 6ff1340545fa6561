"""Events resource."""

from web.events.routes import blp

__all__ = ["blp"]
