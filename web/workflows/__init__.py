from web.workflows import named  # noqa: F401 - declares its routes on the blueprint
from web.workflows.routes import blp

__all__ = ["blp"]
