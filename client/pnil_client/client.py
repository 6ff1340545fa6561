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
from pnil_client.models import ApiKey, Execution, Function, QueueStats, Secret, Version
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

    def stage_version(
        self, function: str, source: str, language: str | None = None, change_description: str | None = None
    ) -> Function:
        """Safe deploy: a new version that serves only once it compiled; until then (and if it fails)
        the serving version keeps running. The Function's `pending_version` shows the staged one."""
        body: dict[str, Any] = {"source": source}
        if language:
            body["language"] = language
        if change_description:
            body["changeDescription"] = change_description
        return Function.from_json(self._http.request("POST", self._fn(function, "/versions"), json=body))

    def compile_check(self, language: str, source: str) -> str | None:
        """Compile a source without storing anything: None when it compiles, else the compile error."""
        found = self._http.request("POST", "/compile", json={"language": language, "source": source})
        return None if found["status"] == "READY" else found["compileError"]

    def whoami(self) -> dict[str, Any]:
        """The tenant and key this client acts as."""
        return self._http.request("GET", "/whoami")

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
        delay_ms: int | None = None,
        run_at: str | None = None,
        expires_at: str | None = None,
        max_queue_ms: int | None = None,
        retry_policy: dict[str, Any] | None = None,
    ) -> ExecutionHandle:
        """Queue an execution; with `idempotency_key` a retried submit never runs it twice.

        `delay_ms`/`run_at` (RFC 3339) delay its start, `expires_at`/`max_queue_ms` bound its
        wait, `retry_policy` overrides fields of the function's (e.g. `{"maxAttempts": 5}`)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body: dict[str, Any] = {"input": input if input is not None else {}}
        options = {
            "delayMs": delay_ms,
            "runAt": run_at,
            "expiresAt": expires_at,
            "maxQueueMs": max_queue_ms,
            "retryPolicy": retry_policy,
        }
        body.update({name: value for name, value in options.items() if value is not None})
        data = self._http.request("POST", self._fn(function, "/executions"), json=body, headers=headers)
        return ExecutionHandle(self, Execution.from_json(data))

    def replay(
        self,
        execution_id: str,
        *,
        latest: bool = False,
        input: dict[str, Any] | None = None,  # noqa: A002
    ) -> ExecutionHandle:
        """Queue a new execution of a finished one (same input unless given; the same version
        unless `latest`)."""
        body: dict[str, Any] = {"version": "latest" if latest else "same"}
        if input is not None:
            body["input"] = input
        data = self._http.request("POST", f"/executions/{segment(execution_id)}/replay", json=body)
        return ExecutionHandle(self, Execution.from_json(data))

    def failed(self, *, limit: int = 100, offset: int = 0) -> list[Execution]:
        """Queued executions of every function that failed for good (no retry left), newest first."""
        params = {"final": "true", "limit": limit, "offset": offset}
        return [Execution.from_json(e) for e in self._http.request("GET", "/executions", params=params)]

    def attempts(self, execution_id: str) -> list[Execution]:
        """Every attempt of the chain an execution belongs to, first first."""
        first = self.get_execution(execution_id).first_attempt_id or execution_id
        rows = self._http.request("GET", "/executions", params={"firstAttemptId": first, "limit": 1000})
        return sorted((Execution.from_json(e) for e in rows), key=lambda e: e.attempt or 1)

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

    # -- secrets -----------------------------------------------------------------------------
    def set_secret(self, name: str, value: str) -> Secret:
        """Create or replace a secret of the key's tenant; the answer never holds the value."""
        return Secret.from_json(self._http.request("PUT", f"/secrets/{segment(name)}", json={"value": value}))

    def list_secrets(self) -> list[Secret]:
        """The tenant's secrets: names, versions, times."""
        return [Secret.from_json(s) for s in self._http.request("GET", "/secrets")]

    def delete_secret(self, name: str) -> None:
        self._http.request("DELETE", f"/secrets/{segment(name)}")

    # -- operators ---------------------------------------------------------------------------
    def queues(self) -> list[QueueStats]:
        """Depth, in flight, oldest age and dead letters per queue (admin key)."""
        return [QueueStats.from_json(q) for q in self._http.request("GET", "/admin/queues")]

    def create_key(
        self,
        tenant: str,
        *,
        name: str | None = None,
        admin: bool = False,
        scopes: list[str] | None = None,
        functions: list[str] | None = None,
        expires_at: str | None = None,
    ) -> ApiKey:
        """A new key for a tenant (admin key); `.key` is shown only now. `scopes`: admin, manage,
        invoke, read; `functions` (ids) limit an invoke key; `expires_at` is ISO 8601 with an offset."""
        body: dict[str, Any] = {"tenant": tenant, "admin": admin}
        extra = {"name": name, "scopes": scopes, "functions": functions, "expiresAt": expires_at}
        body.update({k: v for k, v in extra.items() if v})
        return ApiKey.from_json(self._http.request("POST", "/admin/keys", json=body))

    def list_keys(self) -> list[ApiKey]:
        return [ApiKey.from_json(k) for k in self._http.request("GET", "/admin/keys")]

    def revoke_key(self, key_id: str) -> None:
        self._http.request("DELETE", f"/admin/keys/{segment(key_id)}")

    @staticmethod
    def _fn(function: str, suffix: str) -> str:
        return f"/functions/{segment(function)}{suffix}"


class ExecutionHandle:
    """A queued execution: `.status` asks for its status now, `.result(timeout)` waits for its end,
    `.cancel()` stops it."""

    def __init__(self, client: Client, execution: Execution) -> None:
        self._client = client
        self.execution = execution

    @property
    def id(self) -> str:
        return self.execution.id

    @property
    def status(self) -> str:
        """The execution's status now (PENDING, RUNNING, COMPLETED, ...), fetched unless it ended."""
        return (self.execution if self.execution.finished else self.refresh()).status

    def refresh(self) -> Execution:
        self.execution = self._client.get_execution(self.id)
        return self.execution

    def result(self, timeout: float = 60.0, poll: float = 0.05, *, follow_retries: bool = True) -> Execution:
        """The finished Execution (any end status); ExecutionTimeout if it did not end in time.

        With `follow_retries`, an attempt that was retried is followed to its chain's last one."""
        deadline = time.monotonic() + timeout
        delay = poll
        while not self.execution.finished or (follow_retries and self.execution.retried):
            if self.execution.finished:  # retried: move on to the next attempt once it exists
                following = [e for e in self._client.attempts(self.id) if e.retry_of == self.id]
                if following:
                    self.execution = following[0]
                    continue
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
