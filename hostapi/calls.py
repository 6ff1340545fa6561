"""One run's host API: validates a guest's call, holds it to maxApiCallsPerMinute, carries it out.

A call is JSON `{"op": "kv.get", "args": {...}}`; the answer is `{"ok": value}` or
`{"error": "what happened and what to do"}`. Ops: kv.get, kv.set, kv.delete, kv.list,
kv.increment, kv.cas, http.fetch, emit, secrets.get, enqueue. The values of the secrets a run read are
kept (`revealed`) so that what it stores (key-value entries, events) and what its execution
records are redacted.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import psycopg

from events import names
from events.publish import publish
from hostapi import allowed_hosts, fetch
from hostapi.call_budget import CallBudget
from infra import limits as limit_rules
from infra import strict_json
from infra.logs import event
from infra.redact import Redactor
from infra.retry_policy import MAX_WAIT_MS
from infra.secretbox import SecretBox, SecretKeyError
from infra.storage_bounds import DEFAULT_QUOTAS, Quotas
from store import executions, kv, quotas
from store import secrets as secret_store

log = logging.getLogger(__name__)

MAX_KEY_BYTES = 255
MAX_VALUE_BYTES = 1024 * 1024
MAX_LIST = 1000
MAX_TTL_S = 10 * 365 * 24 * 3600
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class CallRefused(Exception):
    """The call is invalid or not allowed; its message goes back to the code."""


class RawJson:
    """A call's result that is JSON text already (a stored value as PostgreSQL prints it)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class HostApi:
    """The host API of one execution (one thread: the run's own)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        fn: dict[str, Any],
        execution_id: str,
        deadline: float,
        box: SecretBox | None = None,
        *,
        quotas: Quotas = DEFAULT_QUOTAS,
    ) -> None:
        # The execution's own autocommit connection: idle while the sandbox runs, so the calls,
        # which come on the run's thread, use it rather than borrow another from the pool.
        self.conn = conn
        self.tenant_id: uuid.UUID = fn["tenant_id"]
        self.function_id: uuid.UUID = fn["id"]
        self.execution_id = execution_id
        self.allowed_hosts: list[str] = list(fn.get("allowed_hosts") or [])
        self.per_minute = limit_rules.effective(fn["resource_limits"])["maxApiCallsPerMinute"]
        trigger = fn.get("trigger_data")
        self.depth = (
            int(trigger.get("depth", 0))
            if fn.get("trigger_type") in ("EVENT", "WORKFLOW") and isinstance(trigger, dict)
            else 0
        )
        self.deadline = deadline
        self.quotas = quotas
        self.box = box or SecretBox(None)
        self.declared: list[str] = list(fn.get("secrets") or [])
        self.revealed: dict[str, str] = {}  # secret name -> value, of the secrets this run read
        self.budget = CallBudget(self.per_minute)
        self.calls = 0
        self.queries = 0
        self.refused_until = 0.0  # wall-clock end of a minute whose budget is spent

    def handle(self, payload: bytes) -> bytes:
        """Answer one call frame (never raises: a failure is the answer)."""
        try:
            request = strict_json.loads(payload.decode("utf-8", "surrogatepass"))
            if not isinstance(request, dict):
                raise CallRefused("a host call is a JSON object {op, args}")
            op, args = request["op"], request.get("args") or {}
            if not isinstance(args, dict):
                raise CallRefused("the call's args must be an object")
            result = self.call(str(op), args)
            if isinstance(result, RawJson):  # JSON text already: spliced in, not parsed and printed
                return b'{"ok":' + result.text.encode("utf-8", "surrogatepass") + b"}"
            answer = {"ok": result}
        except CallRefused as exc:
            answer = {"error": str(exc)}
        except (ValueError, KeyError, TypeError) as exc:  # UnstorableJson included: NaN, NUL, ...
            answer = {"error": f"malformed host call: {exc}"}
        except psycopg.Error as exc:
            event(
                log, "hostapi.db_error", level=logging.WARNING, executionId=self.execution_id, error=str(exc)
            )
            answer = {"error": "the key-value store is unavailable right now; try again"}
        return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")

    def call(self, op: str, args: dict[str, Any]) -> Any:
        handler = _OPS.get(op)
        if handler is None:
            raise CallRefused(f"unknown host call {op!r}; use one of {', '.join(sorted(_OPS))}")
        if op not in _SELF_COUNTING:
            self._count()
        return handler(self, args)

    def _count(self, made: int | None = None) -> None:
        """Count this call (`made`: the minute's total with it, when a statement counted it already)."""
        if made is None:
            self.calls += 1
            if time.time() < self.refused_until:  # known to be over budget: no database round trip
                made = self.per_minute + 1
            elif self.budget.take():  # reserved by this run already: no round trip either
                return
            else:
                made = self.budget.reserved(*kv.reserve_calls(self.conn, self.function_id, self.budget.block))
        if made > self.per_minute:
            self.refused_until = (time.time() // 60 + 1) * 60
            raise CallRefused(
                f"maxApiCallsPerMinute ({self.per_minute}) reached for this function across all runs; "
                "calls are allowed again next minute, or raise resourceLimits.maxApiCallsPerMinute"
            )

    def release(self) -> None:
        """Give back the calls this run reserved and did not make (when it ends; never raises)."""
        unspent = self.budget.give_back()
        if unspent is None:
            return
        try:
            kv.give_back_calls(self.conn, self.function_id, *unspent)
        except psycopg.Error as exc:  # counted until the minute ends: a rate limit, nothing lost
            event(
                log, "hostapi.db_error", level=logging.WARNING, executionId=self.execution_id, error=str(exc)
            )

    # -- key-value ---------------------------------------------------------------------------
    def _kv(self, statement, *args, **kwargs):
        self.queries += 1
        return statement(self.conn, self.tenant_id, *args, **kwargs)

    def _room(self, key: str, value: Any) -> None:
        try:
            # the platform's own read: not one of the function's databaseQueryCount
            quotas.check_kv(self.conn, self.tenant_id, self.quotas, key, value)
        except quotas.QuotaExceeded as exc:
            raise CallRefused(str(exc)) from exc

    def kv_get(self, args: dict[str, Any]) -> RawJson | None:
        # Counted like every call (an invalid one too, a refused one without a round trip), but in
        # the statement that reads the entry: one round trip for the hot read, a read only when
        # the run holds a reserved call.
        if time.time() < self.refused_until:
            self._count()
        try:
            key = _key(args)
        except CallRefused:
            self._count()
            raise
        self.calls += 1
        if self.budget.take():
            text = kv.get_text(self.conn, self.tenant_id, key)
        else:
            block = self.budget.block
            reservation, text = kv.get_reserving_calls(
                self.conn, self.function_id, block, self.tenant_id, key
            )
            self._count(self.budget.reserved(*reservation))
        self.queries += 1
        return RawJson(text) if text is not None else None

    def kv_set(self, args: dict[str, Any]) -> None:
        # Counted like every call, but in the statement that checks the quota and writes: one
        # round trip (and one commit), which writes only within the budget and the quota.
        if time.time() < self.refused_until:
            self._count()
        try:
            ttl = args.get("ttl")
            if ttl is not None and (
                isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= MAX_TTL_S
            ):
                raise CallRefused(f"ttl must be a number of seconds between 0 and {MAX_TTL_S}")
            key, value = _key(args), self.redactor().value(_value(args, "value"))
        except Exception:
            self._count()  # an invalid call is counted too (and over budget, refused as such)
            raise
        self.calls += 1
        block = 0 if self.budget.take() else self.budget.block
        reservation, written, room = kv.put_reserving_calls(
            self.conn, self.function_id, block, self.tenant_id, self.quotas, self.per_minute, key, value, ttl
        )
        if reservation is not None:
            self._count(self.budget.reserved(*reservation))
        if not written:
            refusal = quotas.kv_refusal(*room) if room is not None else None
            raise CallRefused(str(refusal) if refusal else "the key-value entry was not written; try again")
        self.queries += 1

    def kv_delete(self, args: dict[str, Any]) -> bool:
        return self._kv(kv.delete, _key(args))

    def kv_list(self, args: dict[str, Any]) -> list[str]:
        prefix, limit = args.get("prefix", ""), args.get("limit", 100)
        if not isinstance(prefix, str) or len(prefix.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise CallRefused(f"prefix must be a string of at most {MAX_KEY_BYTES} bytes")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise CallRefused(f"limit must be an integer from 1 to {MAX_LIST}")
        return self._kv(kv.list_keys, prefix, limit)

    def kv_increment(self, args: dict[str, Any]) -> int:
        by = args.get("by", 1)
        if isinstance(by, bool) or not isinstance(by, int) or abs(by) >= 2**53:
            raise CallRefused("by must be an integer")
        key = _key(args)
        self._room(key, 2**53)  # a counter's largest value: no new key past the quota
        try:
            return self._kv(kv.increment, key, by)
        except psycopg.errors.NotNullViolation as exc:
            raise CallRefused(f"the value of {key!r} is not an integer, so it cannot be incremented") from exc
        except psycopg.errors.NumericValueOutOfRange as exc:
            raise CallRefused(f"incrementing {key!r} would overflow a 64-bit integer") from exc

    def kv_cas(self, args: dict[str, Any]) -> bool:
        absent = "expected" not in args
        expected = None if absent else _value(args, "expected")
        key, value = _key(args), self.redactor().value(_value(args, "value"))
        self._room(key, value)
        return self._kv(kv.compare_and_set, key, expected, value, absent=absent)

    # -- outbound HTTP and events ------------------------------------------------------------
    def http_fetch(self, args: dict[str, Any]) -> dict[str, Any]:
        url, method = args.get("url"), str(args.get("method") or "GET").upper()
        headers, body = args.get("headers") or {}, args.get("body")
        if not isinstance(url, str) or len(url) > 8192:
            raise CallRefused("url must be a string of at most 8192 characters")
        if method not in METHODS:
            raise CallRefused(f"method must be one of {', '.join(METHODS)}")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise CallRefused("headers must be an object of strings")
        if body is not None and not isinstance(body, str):
            raise CallRefused("body must be a string (JSON.stringify an object first)")
        try:
            target = allowed_hosts.check(url, self.allowed_hosts)
            response = fetch.fetch(target, method, headers, body, self.deadline)
        except (allowed_hosts.HostNotAllowed, fetch.FetchFailed) as exc:
            raise CallRefused(str(exc)) from exc
        event(
            log,
            "hostapi.fetched",
            executionId=self.execution_id,
            functionId=str(self.function_id),
            host=target.host,
            status=response["status"],
        )
        return response

    def emit(self, args: dict[str, Any]) -> str:
        event_type, payload = args.get("type"), args.get("payload", {})
        problem = names.type_error(event_type)
        if problem:
            raise CallRefused(problem)
        if not isinstance(payload, dict):
            raise CallRefused("payload must be a JSON object")
        _size_check(payload, "payload")
        with self.conn.transaction():
            event_id = publish(
                self.conn,
                self.tenant_id,
                event_type,
                self.redactor().value(payload),
                depth=self.depth,
                source_execution_id=uuid.UUID(self.execution_id),
            )
        return str(event_id)

    # -- secrets -----------------------------------------------------------------------------
    def secrets_get(self, args: dict[str, Any]) -> str:
        name = args.get("name")
        if not isinstance(name, str) or name not in self.declared:
            declared = ", ".join(self.declared) or "none"
            raise CallRefused(
                f"secret {name!r} is not declared by this function (it declares: {declared}); "
                'add it to the function\'s "secrets" list'
            )
        self.queries += 1
        token = secret_store.ciphertext(self.conn, self.tenant_id, name)
        if token is None:
            raise CallRefused(f"secret {name!r} does not exist (any more): PUT /secrets/{name} to set it")
        try:
            value = self.box.decrypt(token)
        except SecretKeyError as exc:
            event(
                log, "hostapi.secret_key", level=logging.ERROR, executionId=self.execution_id, error=str(exc)
            )
            raise CallRefused(f"secret {name!r} cannot be read right now (the platform's key)") from exc
        self.revealed[name] = value
        return value

    def redactor(self) -> Redactor:
        """Replaces the values of the secrets read so far."""
        return Redactor(self.revealed)

    # -- queueing another function -------------------------------------------------------------
    def enqueue(self, args: dict[str, Any]) -> str:
        ref, value, delay = args.get("function"), args.get("input", {}), args.get("delayMs", 0)
        if not isinstance(ref, str) or not 1 <= len(ref) <= 200:
            raise CallRefused("function must be the name or id of a function of this tenant")
        if not isinstance(value, dict):
            raise CallRefused("input must be a JSON object")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise CallRefused("delayMs must be a number of milliseconds, 0 or more")
        if delay > MAX_WAIT_MS:
            raise CallRefused(f"delayMs is at most {MAX_WAIT_MS} (30 days)")
        _size_check(value, "input")
        try:
            # a new chain, like one queued through the API: held to the tenant's pending quota
            quotas.check_pending(self.conn, self.tenant_id, self.quotas)
        except quotas.QuotaExceeded as exc:
            raise CallRefused(str(exc)) from exc
        self.queries += 1
        row = executions.queue_by_ref(
            self.conn,
            self.tenant_id,
            ref,
            input_value=self.redactor().value(value),
            trigger_type="API",
            trigger_data={"enqueuedBy": self.execution_id},
            delay_ms=round(delay),
        )
        if row is None:
            raise CallRefused(f"function {ref!r} not found in this tenant")
        if row["execution_id"] is None:
            raise CallRefused(
                f"function {ref!r} cannot run now (status {row['status']}, state {row['state']}); "
                "only READY and ACTIVE functions are queued"
            )
        event(
            log,
            "hostapi.enqueued",
            executionId=self.execution_id,
            functionId=str(self.function_id),
            enqueuedExecutionId=str(row["execution_id"]),
        )
        return str(row["execution_id"])


# The ops whose statement counts the call itself (one round trip instead of two).
_SELF_COUNTING = frozenset({"kv.get", "kv.set"})
_OPS = {
    "kv.get": HostApi.kv_get,
    "kv.set": HostApi.kv_set,
    "kv.delete": HostApi.kv_delete,
    "kv.list": HostApi.kv_list,
    "kv.increment": HostApi.kv_increment,
    "kv.cas": HostApi.kv_cas,
    "http.fetch": HostApi.http_fetch,
    "emit": HostApi.emit,
    "secrets.get": HostApi.secrets_get,
    "enqueue": HostApi.enqueue,
}


def _key(args: dict[str, Any]) -> str:
    key = args.get("key")
    if not isinstance(key, str) or not 1 <= len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES:
        raise CallRefused(f"key must be a string of 1 to {MAX_KEY_BYTES} bytes")
    if "\x00" in key:
        raise CallRefused("key must not contain NUL characters")
    return key


def _value(args: dict[str, Any], name: str) -> Any:
    if name not in args:
        raise CallRefused(f"{name} is missing")
    _size_check(args[name], name)
    return args[name]


def _size_check(value: Any, name: str) -> None:
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        raise CallRefused(f"{name} is {size} bytes of JSON; the most a value may be is {MAX_VALUE_BYTES}")
