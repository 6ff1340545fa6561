"""Functions resource (routes.py: CRUD; versions.py: versions, diff, rollback, state)."""

from web.functions import versions  # noqa: F401 - declares its routes on the blueprint
from web.functions.routes import blp

__all__ = ["blp"]
