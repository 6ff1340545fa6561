"""Executions resource."""

from web.executions.routes import blp

__all__ = ["blp"]
