"""HTTP to pnil: one pooled session, JSON in and out, errors mapped, retries only where safe.

Safe to retry: GET (reads), and a POST that carries an `Idempotency-Key` (the server answers a
repeat with the execution the key started; `invoke` and `submit` always send one). Nothing else
is retried: a PUT or state change that reached the server but lost its answer is not repeated.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import requests

from pnil_client.errors import ConnectionFailed, PnilError, error_for

RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = "pnil-client/0.1"


class Transport:
    def __init__(self, url: str, api_key: str | None, *, timeout: float, retries: int, backoff: float):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()  # keeps connections alive between calls
        self.session.headers["User-Agent"] = USER_AGENT
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The decoded JSON answer (None for 204); raises a PnilError subclass on failure."""
        retryable = method == "GET" or bool(headers and headers.get("Idempotency-Key"))
        attempts = 1 + (self.retries if retryable else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self.session.request(
                    method,
                    self.url + path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=timeout or self.timeout,
                )
            except requests.RequestException as exc:
                if last:
                    raise ConnectionFailed(f"could not reach pnil at {self.url}: {exc}") from exc
            else:
                if response.status_code < 400:
                    return _decode(response)
                if last or response.status_code not in RETRY_STATUSES:
                    raise error_for(response.status_code, _json_or_none(response), response.text)
            time.sleep(self.backoff * 2**attempt)
        raise PnilError("unreachable")  # the loop always returns or raises


def segment(value: str) -> str:
    """A function name or id as one path segment."""
    return quote(str(value), safe="")


def _decode(response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    body = _json_or_none(response)
    if body is None:
        raise PnilError(
            f"pnil answered {response.status_code} with non-JSON content", status=response.status_code
        )
    return body


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
