"""Outbound HTTP on a function's behalf: to a checked address, bounded in time and size.

Redirects are not followed (a 3xx is returned as it is): following one would need a new check of
the new host, which the function can do by fetching the Location itself.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from typing import Any

from hostapi.allowed_hosts import Target

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = 1024 * 1024
_DROPPED_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


class FetchFailed(Exception):
    """The request could not be made or answered in time; the message says which."""


class _VettedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _VettedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # certificate of the name


def fetch(
    target: Target, method: str, headers: dict[str, str], body: str | None, deadline: float
) -> dict[str, Any]:
    """{status, headers, body} of one request; the body is text (UTF-8, invalid bytes replaced)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0.05:
        raise FetchFailed("no time left in this execution for an HTTP request")
    payload = body.encode("utf-8") if body is not None else None
    if payload is not None and len(payload) > MAX_REQUEST_BYTES:
        raise FetchFailed(f"the request body is over {MAX_REQUEST_BYTES} bytes")
    kind = _VettedHTTPSConnection if target.scheme == "https" else _VettedHTTPConnection
    connection = kind(target, timeout=remaining)
    try:
        sent = {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
        connection.request(method, target.path, body=payload, headers=sent)
        response = connection.getresponse()
        data = bytearray()
        while len(data) <= MAX_RESPONSE_BYTES:
            if time.monotonic() > deadline:
                raise FetchFailed("the response did not arrive within the execution's time limit")
            chunk = response.read(65536)
            if not chunk:
                break
            data += chunk
        if len(data) > MAX_RESPONSE_BYTES:
            raise FetchFailed(f"the response body is over {MAX_RESPONSE_BYTES} bytes")
        return {
            "status": response.status,
            "headers": {k.lower(): v for k, v in response.getheaders()},
            "body": data.decode("utf-8", errors="replace"),
        }
    except (OSError, http.client.HTTPException) as exc:
        raise FetchFailed(
            f"{method} {target.scheme}://{target.host}{target.path[:200]} failed: {exc}"
        ) from exc
    finally:
        connection.close()
