"""`Client`: the Python SDK for pnil (functions, executions, versions, queues, keys).

Invoking a function from code is pnil's EMBEDDED use: `client.invoke("resize", {...})` runs it
synchronously; `client.submit(...)` queues it and returns a handle whose `.result()` waits.
Executions started this way have `triggerType: API`.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from pnil_client.errors import CompileFailed, ExecutionTimeout
from pnil_client.models import ApiKey, Execution, Function, QueueStats, Version
from pnil_client.transport import Transport, segment
from pnil_client.workflows import Workflows

DEFAULT_URL = "http://127.0.0.1:8080"


class Client:
    """pnil over HTTP. `url`/`api_key` default to PNIL_URL/PNIL_API_KEY (then a local server)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.2,
    ) -> None:
        self.url = url or os.environ.get("PNIL_URL") or DEFAULT_URL
        self.api_key = api_key or os.environ.get("PNIL_API_KEY") or None
        self._http = Transport(self.url, self.api_key, timeout=timeout, retries=retries, backoff=backoff)
        self.workflows = Workflows(self._http)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- functions ---------------------------------------------------------------------------
    def create_function(self, name: str, language: str, source: str, **settings: Any) -> Function:
        """Register a function; `settings` are the API's fields (type, cronExpression, resourceLimits…)."""
        body = {"name": name, "language": language, "source": source, **settings}
        return Function.from_json(self._http.request("POST", "/functions", json=body))

    def update_function(self, function: str, **changes: Any) -> Function:
        """PUT the given fields (source, language, changeDescription, state, tags…)."""
        return Function.from_json(self._http.request("PUT", f"/functions/{segment(function)}", json=changes))

    def get_function(self, function: str) -> Function:
        """By id or name."""
        return Function.from_json(self._http.request("GET", f"/functions/{segment(function)}"))

    def list_functions(self, *, limit: int = 100, offset: int = 0, **filters: Any) -> list[Function]:
        """Newest first; filters: name (substring), state, type, language, tag (a list: all of them)."""
        params = {"limit": limit, "offset": offset} | {k: v for k, v in filters.items() if v is not None}
        return [Function.from_json(f) for f in self._http.request("GET", "/functions", params=params)]

    def delete_function(self, function: str) -> None:
        self._http.request("DELETE", f"/functions/{segment(function)}")

    def set_state(self, function: str, state: str) -> Function:
        """ACTIVE, PAUSED, DISABLED, ARCHIVED (a Conflict names the legal ones)."""
        path = f"/functions/{segment(function)}/state"
        return Function.from_json(self._http.request("POST", path, json={"state": state}))

    def wait_ready(self, function: str, timeout: float = 120.0, poll: float = 0.1) -> Function:
        """Poll until compiled; raises CompileFailed with the compile error if it failed."""
        deadline = time.monotonic() + timeout
        while True:
            fn = self.get_function(function)
            if fn.status == "READY":
                return fn
            if fn.status == "FAILED":
                raise CompileFailed(f"{fn.name} failed to compile", errors=fn.compile_error)
            if time.monotonic() > deadline:
                raise ExecutionTimeout(f"{fn.name} was still {fn.status} after {timeout:g} s")
            time.sleep(poll)

    # -- versions ----------------------------------------------------------------------------
    def versions(self, function: str) -> list[Version]:
        """Newest first, each with its compile outcome."""
        return [Version.from_json(v) for v in self._http.request("GET", self._fn(function, "/versions"))]

    def version(self, function: str, number: int) -> Version:
        """One version with its source."""
        return Version.from_json(self._http.request("GET", self._fn(function, f"/versions/{int(number)}")))

    def diff(self, function: str, a: int, b: int) -> str:
        """Unified diff of version a's source to version b's."""
        return self._http.request("GET", self._fn(function, f"/versions/{int(a)}/diff/{int(b)}"))["diff"]

    def rollback(self, function: str, version: int, change_description: str | None = None) -> Function:
        """A new version with that version's source (READY at once when it compiled before)."""
        body: dict[str, Any] = {"version": int(version)}
        if change_description:
            body["changeDescription"] = change_description
        return Function.from_json(self._http.request("POST", self._fn(function, "/rollback"), json=body))

    # -- executions --------------------------------------------------------------------------
    def invoke(
        self,
        function: str,
        input: dict[str, Any] | None = None,  # noqa: A002
        *,
        idempotency_key: str | None = None,
    ) -> Execution:
        """Run synchronously; the Execution says COMPLETED (with output) or FAILED/TIMEOUT.

        Every call carries an Idempotency-Key (a fresh one unless given), so a retry after a lost
        answer returns the execution that already ran instead of running the function again.
        """
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        body = {"input": input if input is not None else {}}
        path = self._fn(function, "/execute")
        return Execution.from_json(self._http.request("POST", path, json=body, headers=headers))

    def submit(
        self,
        function: str,
        input: dict[str, Any] | None = None,  # noqa: A002
        *,
        idempotency_key: str | None = None,
    ) -> ExecutionHandle:
        """Queue an execution; with `idempotency_key` a retried submit never runs it twice."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = {"input": input if input is not None else {}}
        data = self._http.request("POST", self._fn(function, "/executions"), json=body, headers=headers)
        return ExecutionHandle(self, Execution.from_json(data))

    def get_execution(self, execution_id: str) -> Execution:
        return Execution.from_json(self._http.request("GET", f"/executions/{segment(execution_id)}"))

    def executions(
        self,
        function: str,
        *,
        status: str | None = None,
        trigger_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Execution]:
        """A function's executions, newest first."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        if trigger_type:
            params["triggerType"] = trigger_type
        rows = self._http.request("GET", self._fn(function, "/executions"), params=params)
        return [Execution.from_json(e) for e in rows]

    def cancel(self, execution_id: str) -> Execution:
        path = f"/executions/{segment(execution_id)}/cancel"
        return Execution.from_json(self._http.request("POST", path))

    # -- operators ---------------------------------------------------------------------------
    def queues(self) -> list[QueueStats]:
        """Depth, in flight, oldest age and dead letters per queue (admin key)."""
        return [QueueStats.from_json(q) for q in self._http.request("GET", "/admin/queues")]

    def create_key(self, tenant: str, *, name: str | None = None, admin: bool = False) -> ApiKey:
        """A new key for a tenant (admin key); `.key` is shown only now."""
        body: dict[str, Any] = {"tenant": tenant, "admin": admin}
        if name:
            body["name"] = name
        return ApiKey.from_json(self._http.request("POST", "/admin/keys", json=body))

    def list_keys(self) -> list[ApiKey]:
        return [ApiKey.from_json(k) for k in self._http.request("GET", "/admin/keys")]

    def revoke_key(self, key_id: str) -> None:
        self._http.request("DELETE", f"/admin/keys/{segment(key_id)}")

    @staticmethod
    def _fn(function: str, suffix: str) -> str:
        return f"/functions/{segment(function)}{suffix}"


class ExecutionHandle:
    """A queued execution: `.result(timeout)` waits for its end; `.cancel()` stops it."""

    def __init__(self, client: Client, execution: Execution) -> None:
        self._client = client
        self.execution = execution

    @property
    def id(self) -> str:
        return self.execution.id

    def refresh(self) -> Execution:
        self.execution = self._client.get_execution(self.id)
        return self.execution

    def result(self, timeout: float = 60.0, poll: float = 0.05) -> Execution:
        """The finished Execution (any end status); ExecutionTimeout if it did not end in time."""
        deadline = time.monotonic() + timeout
        delay = poll
        while not self.execution.finished:
            if time.monotonic() > deadline:
                raise ExecutionTimeout(
                    f"execution {self.id} was still {self.execution.status} after {timeout:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
            self.refresh()
        return self.execution

    def cancel(self) -> Execution:
        self.execution = self._client.cancel(self.id)
        return self.execution
