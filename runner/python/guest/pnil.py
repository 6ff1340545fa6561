"""pnil's host API for Python functions: ``from pnil import kv, fetch, emit, secrets, enqueue, Retry``.

Runs inside the sandbox. Every call is one JSON request to the host (``host-call`` in the
runtime's WIT world), answered before the function goes on; a refused call (not allowed, over
maxApiCallsPerMinute, invalid) raises :class:`HostCallError` with the host's reason.
"""

import json

import wit_world

__all__ = ["HostCallError", "Response", "Retry", "emit", "enqueue", "fetch", "kv", "secrets"]

_ABSENT = object()


class HostCallError(Exception):
    """The host refused or could not carry out a call; the message says why."""


class Retry(Exception):  # noqa: N818 - the name users write: raise pnil.Retry("rate limited")
    """Raise to end this attempt FAILED and ask for a retry, whatever the retry policy's retryOn
    says, within its maxAttempts; ``delay_ms`` replaces the policy's backoff for the wait."""

    def __init__(self, message="retry requested", delay_ms=None):
        super().__init__(message)
        self.delay_ms = delay_ms


def _call(op, args):
    answer = json.loads(wit_world.host_call(json.dumps({"op": op, "args": args})))
    if "error" in answer:
        raise HostCallError(f"{op}: {answer['error']}")
    return answer.get("ok")


class _KeyValue:
    """The tenant's key-value store: keys up to 255 bytes, JSON values up to 1 MiB."""

    def get(self, key):
        """The value stored under ``key``, or None when it is absent or expired."""
        return _call("kv.get", {"key": key})

    def set(self, key, value, ttl=None):
        """Store ``value`` (JSON-compatible); ``ttl`` seconds makes it expire."""
        _call("kv.set", {"key": key, "value": value, "ttl": ttl})

    def delete(self, key):
        """True when the key existed."""
        return _call("kv.delete", {"key": key})

    def list(self, prefix="", limit=100):
        """The keys starting with ``prefix``, in order."""
        return _call("kv.list", {"prefix": prefix, "limit": limit})

    def increment(self, key, by=1):
        """Add ``by`` to an integer value (absent counts as 0) atomically; the new value."""
        return _call("kv.increment", {"key": key, "by": by})

    def compare_and_set(self, key, expected=_ABSENT, value=None):
        """Store ``value`` only if the current value equals ``expected`` (omitted: only if the
        key is absent); True when it was stored."""
        args = {"key": key, "value": value}
        if expected is not _ABSENT:
            args["expected"] = expected
        return _call("kv.cas", args)


kv = _KeyValue()


class Response:
    """The answer to :func:`fetch`: status, headers (lower-case names) and body text."""

    __slots__ = ("status", "headers", "text")

    def __init__(self, status, headers, text):
        self.status, self.headers, self.text = status, headers, text

    @property
    def ok(self):
        return 200 <= self.status < 300

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return f"<Response [{self.status}]>"


def fetch(url, method="GET", headers=None, body=None):
    """One HTTP request to a host in the function's allowedHosts; redirects are not followed."""
    answer = _call("http.fetch", {"url": str(url), "method": method, "headers": headers, "body": body})
    return Response(answer["status"], answer["headers"], answer["body"])


def emit(type, payload=None):  # noqa: A002 - the event's type, as in the REST API
    """Publish a domain event of ``type`` with a JSON object ``payload``; its id."""
    return _call("emit", {"type": type, "payload": {} if payload is None else payload})


class _Secrets:
    """The tenant's secrets this function declares (its ``secrets`` list)."""

    def get(self, name):
        """The secret's value; HostCallError when the function does not declare ``name``."""
        return _call("secrets.get", {"name": name})


secrets = _Secrets()


def enqueue(function, input=None, options=None):  # noqa: A002 - the API's own word
    """Queue an execution of another function of the tenant (name or id) with a JSON object
    ``input``; its execution id.
    ``options`` may hold ``delayMs`` (0 to 30 days: it starts that much later)."""
    delay = (options or {}).get("delayMs", 0)
    return _call("enqueue", {"function": function, "input": {} if input is None else input, "delayMs": delay})
