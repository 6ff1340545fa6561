"""One exception hierarchy for everything the SDK raises, carrying the server's code and message."""

from __future__ import annotations

from typing import Any


class PnilError(Exception):
    """A request to pnil failed; `status` is the HTTP status (0 when no answer came)."""

    def __init__(self, message: str, *, status: int = 0, errors: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors

    @property
    def code(self) -> int:
        """The server's `code` (the HTTP status), as in its JSON error body."""
        return self.status

    def __str__(self) -> str:
        head = f"{self.status} {self.message}" if self.status else self.message
        return f"{head}: {self.errors}" if self.errors else head


class ConnectionFailed(PnilError):
    """No answer: the server is down, unreachable, or the request timed out."""


class BadRequest(PnilError):
    """400: the request is malformed or fails validation (see `errors`)."""


class Unauthorized(PnilError):
    """401: no key, or a wrong or revoked one."""


class Forbidden(PnilError):
    """403: the key may not do this (e.g. an admin endpoint)."""


class NotFound(PnilError):
    """404: no such function, version or execution in your tenant."""


class Conflict(PnilError):
    """409: a name clash, an illegal state transition, an idempotency key reused with another body."""


class PayloadTooLarge(PnilError):
    """413: the request body is over the server's limit."""


class TooManyRequests(PnilError):
    """429: a concurrency or rate limit of the function is reached; try again later."""


class Unavailable(PnilError):
    """503: the function or the server cannot serve this right now."""


class ServerError(PnilError):
    """Any other 5xx."""


class CompileFailed(PnilError):
    """A deployed function ended FAILED; `errors` is the compile error text."""


class ExecutionTimeout(PnilError):
    """`result(timeout)` waited longer than `timeout` for an execution to end."""


_BY_STATUS: dict[int, type[PnilError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: TooManyRequests,
    503: Unavailable,
}


def error_for(status: int, body: Any, fallback_text: str = "") -> PnilError:
    """The exception for an error answer (a pnil JSON error body, or anything else)."""
    if isinstance(body, dict) and "message" in body:
        message, errors = str(body["message"]), body.get("errors")
    else:
        message, errors = (fallback_text.strip()[:500] or f"HTTP {status}"), None
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else PnilError)
    return kind(message, status=status, errors=errors)
