"""The web console at /console: one page and its assets, all served by pnil itself.

The page talks only to pnil's own API with the key kept in the browser session (sent as a
Bearer token, never in a URL). The editor (CodeMirror 6) is bundled from the npm packages pinned
in package-lock.json by `make install` (esbuild) into static/build/.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, redirect, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"
BUILD = STATIC / "build"

blp = Blueprint("console", __name__)


@blp.get("/")
def root():
    """The console."""
    return redirect("/console", code=302)


@blp.get("/favicon.ico")
def favicon():
    """pnil's icon (browsers ask for it at this path)."""
    return send_from_directory(STATIC, "favicon.svg", mimetype="image/svg+xml", max_age=86400)


@blp.get("/console")
@blp.get("/console/")
def page():
    return send_from_directory(STATIC, "index.html", max_age=0)


@blp.get("/console/static/<path:filename>")
def static(filename: str):
    if filename.startswith("build/") and not BUILD.is_dir():
        abort(404, description="the console's editor is not built: run make install")
    return send_from_directory(STATIC, filename, max_age=300)
