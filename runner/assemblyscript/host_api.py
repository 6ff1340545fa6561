"""The host API for AssemblyScript: the `env.pnil.*` imports behind `import { kv, ... } from "pnil"`.

Each import reads its string arguments from the guest, makes one host call through the run's
HostChannel and writes the answer back as a new guest string. A refused call ends the run FAILED
with the host's message (AssemblyScript has no exceptions to catch it with); only `secrets.get`
answers null instead, so that code can handle a secret it may not read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import wasmtime

from infra import strict_json
from runner.assemblyscript.abi import STRING_CLASS_ID, GuestMemory
from runner.errors import GuestFailure, RetryRequested
from runner.sandbox.host_channel import HostCallFailed, HostChannel


class HostApiImports:
    """The import functions; `current()` gives the run's (channel, last HTTP response) state."""

    def __init__(self, current: Callable[[], Any]) -> None:
        self._current = current

    def handlers(self) -> dict[str, Callable]:
        return {
            "pnil.kv.get": self.kv_get,
            "pnil.kv.set": self.kv_set,
            "pnil.kv.delete": self.kv_delete,
            "pnil.kv.list": self.kv_list,
            "pnil.kv.increment": self.kv_increment,
            "pnil.kv.cas": self.kv_cas,
            "pnil.http.fetch": self.http_fetch,
            "pnil.http.status": self.http_status,
            "pnil.http.headers": self.http_headers,
            "pnil.emit": self.emit,
            "pnil.secrets.get": self.secrets_get,
            "pnil.retry": self.retry,
            "pnil.enqueue": self.enqueue,
        }

    # Each returns what the guest sees; strings go through _text/_json and new_string.
    def kv_get(self, caller, key: int) -> int:
        value = self._call(caller, "kv.get", key=_text(caller, key))
        return 0 if value is None else new_string(caller, _dump(value))

    def kv_set(self, caller, key: int, value: int, ttl: float) -> None:
        args = {"key": _text(caller, key), "value": _json(caller, value, "kv.set value")}
        if ttl > 0:
            args["ttl"] = ttl
        self._call(caller, "kv.set", **args)

    def kv_delete(self, caller, key: int) -> int:
        return 1 if self._call(caller, "kv.delete", key=_text(caller, key)) else 0

    def kv_list(self, caller, prefix: int, limit: int) -> int:
        keys = self._call(caller, "kv.list", prefix=_text(caller, prefix), limit=limit)
        return new_string(caller, _dump(keys))

    def kv_increment(self, caller, key: int, by: float) -> float:
        if by != int(by):
            raise GuestFailure("kv.increment: by must be a whole number")
        return float(self._call(caller, "kv.increment", key=_text(caller, key), by=int(by)))

    def kv_cas(self, caller, key: int, expected: int, value: int) -> int:
        args = {"key": _text(caller, key), "value": _json(caller, value, "kv.compareAndSet value")}
        if expected:
            args["expected"] = _json(caller, expected, "kv.compareAndSet expected")
        return 1 if self._call(caller, "kv.cas", **args) else 0

    def http_fetch(self, caller, url: int, method: int, headers: int, body: int) -> int:
        args = {
            "url": _text(caller, url),
            "method": _text(caller, method) or "GET",
            "headers": _json(caller, headers, "http.fetch headers") if headers else {},
            "body": _text(caller, body) if body else None,
        }
        response = self._call(caller, "http.fetch", **args)
        self._current().last_response = response  # a run is in progress: _call checked it
        return new_string(caller, response["body"])

    def http_status(self, caller) -> int:
        response = self._last_response()
        return int(response["status"]) if response else 0

    def http_headers(self, caller) -> int:
        response = self._last_response()
        return new_string(caller, _dump(response["headers"] if response else {}))

    def emit(self, caller, event_type: int, payload: int) -> None:
        self._call(
            caller, "emit", type=_text(caller, event_type), payload=_json(caller, payload, "emit payload")
        )

    def secrets_get(self, caller, name: int) -> int:
        try:
            value = self._call(caller, "secrets.get", name=_text(caller, name))
        except GuestFailure:
            return 0  # null: not declared, or no such secret
        return new_string(caller, value)

    def retry(self, caller, message: int, delay_ms: float) -> None:
        """`retry(message, delayMs)`: end the run FAILED and ask for a retry (negative: backoff)."""
        text = _text(caller, message) if message else ""
        raise RetryRequested(text or "retry requested", round(delay_ms) if delay_ms >= 0 else None)

    def enqueue(self, caller, function: int, input_json: int, delay_ms: float) -> int:
        execution_id = self._call(
            caller,
            "enqueue",
            function=_text(caller, function),
            input=_json(caller, input_json, "enqueue input"),
            delayMs=delay_ms,
        )
        return new_string(caller, execution_id)

    def _last_response(self) -> dict | None:
        state = self._current()
        return state.last_response if state is not None else None

    def _call(self, caller, op: str, **args: Any) -> Any:
        state = self._current()
        channel: HostChannel | None = state.host if state is not None else None
        if channel is None:
            raise GuestFailure(f"{op}: the host API is not available here")
        try:
            return channel.call(op, args)
        except HostCallFailed as exc:
            raise GuestFailure(f"{op} failed: {exc}") from exc


def new_string(caller: wasmtime.Caller, text: str) -> int:
    """A pinned AssemblyScript string made in the guest (freed with the Store after the run)."""
    encoded = text.encode("utf-16-le", errors="surrogatepass")
    new, pin, memory = caller.get("__new"), caller.get("__pin"), _memory(caller)
    if not isinstance(new, wasmtime.Func) or not isinstance(pin, wasmtime.Func) or memory is None:
        raise GuestFailure(
            "the module does not export __new, __pin and memory (compile with --exportRuntime)"
        )
    ptr = new(caller, len(encoded), STRING_CLASS_ID)
    memory.write(ptr, encoded)
    pin(caller, ptr)
    return ptr


def _memory(caller: wasmtime.Caller) -> GuestMemory | None:
    memory = caller.get("memory")
    return GuestMemory(memory, caller) if isinstance(memory, wasmtime.Memory) else None


def _text(caller: wasmtime.Caller, ptr: int) -> str:
    memory = _memory(caller)
    if memory is None:
        raise GuestFailure("the module exports no memory")
    return memory.read_string(ptr)


def _json(caller: wasmtime.Caller, ptr: int, what: str) -> Any:
    text = _text(caller, ptr)
    try:
        return strict_json.loads(text)
    except ValueError as exc:
        raise GuestFailure(f"{what} is not JSON text ({exc}): pass JSON.stringify-style text") from exc


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
