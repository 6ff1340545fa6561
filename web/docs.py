"""The API docs UI, served offline: Swagger UI's assets from the pinned npm package."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

SWAGGER_UI_DIR = Path(__file__).resolve().parent.parent / "node_modules" / "swagger-ui-dist"
ASSETS_URL = "/docs/assets/"

blp = Blueprint("docs_assets", __name__)


@blp.get("/docs/assets/<path:filename>")
def asset(filename: str):
    """A file of swagger-ui-dist (installed by `make install` with npm ci)."""
    if not SWAGGER_UI_DIR.is_dir():
        abort(404, description="Swagger UI assets are not installed: run make install (npm ci)")
    return send_from_directory(SWAGGER_UI_DIR, filename, max_age=3600)
