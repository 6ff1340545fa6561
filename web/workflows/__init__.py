from web.workflows.routes import blp

__all__ = ["blp"]
