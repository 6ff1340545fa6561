"""Limits on the request itself, answered as JSON before anything else reads it.

gunicorn's own limits sit above these (see gunicorn.conf.py) so that a request just over pnil's
limit gets pnil's JSON answer rather than gunicorn's HTML page. A body is capped whatever its
transfer encoding: a chunked body (no Content-Length) is read up to the limit here, and is a 413
when there is more, never silently cut.
"""

from __future__ import annotations

import io
import time

from flask import Flask, current_app, request
from flask_smorest import abort

MAX_TARGET_CHARS = 4096  # path and query string
MAX_HEADER_BYTES = 8192  # one header: name and value
HEADER_KEYS = ("HTTP_", "CONTENT_TYPE", "CONTENT_LENGTH")  # the environ keys of request headers
DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 5.0


def install(app: Flask) -> None:
    app.before_request(_check)


def _check() -> None:
    # Read from the WSGI environ directly: this runs on every request, before anything else.
    environ = request.environ
    target = environ.get("RAW_URI") or request.full_path
    if len(target) > MAX_TARGET_CHARS:
        message = f"the request path and query are {len(target)} characters; the most is {MAX_TARGET_CHARS}"
        abort(414, message=message)
    query = environ.get("QUERY_STRING", "")
    if "\x00" in environ.get("PATH_INFO", "") or (
        ("%00" in query or "\x00" in query)
        and any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))
    ):
        abort(400, message="the URL contains a NUL character (%00), which no path or parameter may hold")
    for key, value in environ.items():
        if key.startswith(HEADER_KEYS):
            name = key.removeprefix("HTTP_")
            if len(name) + len(value) > MAX_HEADER_BYTES:
                header = name.replace("_", "-").title()
                abort(431, message=f"the {header} header is longer than {MAX_HEADER_BYTES} bytes")
    if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        _buffer_chunked_body(environ, current_app.config["MAX_CONTENT_LENGTH"])


def _buffer_chunked_body(environ: dict, limit: int) -> None:
    """Read the whole chunked body (at most `limit` bytes) and present it with a Content-Length."""
    stream = environ["wsgi.input"]
    body = stream.read(limit + 1)
    if len(body) > limit:
        _drain(stream)
        abort(413, message=f"request body is larger than the limit of {limit} bytes")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def _drain(stream) -> None:
    """Read (a bounded amount of) the rest, so that a client still sending gets to read the 413
    instead of a connection reset."""
    deadline = time.monotonic() + DRAIN_SECONDS
    left = DRAIN_BYTES
    while left > 0 and time.monotonic() < deadline:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            return
        left -= len(chunk)
