"""Functions resource."""

from web.functions.routes import blp

__all__ = ["blp"]
