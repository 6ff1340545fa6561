"""The child's end of host API calls: ask the parent over the pipes, wait for its answer.

The run is blocked meanwhile (calls are synchronous for the guest); the parent bounds each call
by the execution's remaining time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, BinaryIO

from runner.errors import GuestFailure
from runner.sandbox import protocol


class HostCallFailed(Exception):
    """The host API refused or could not carry out the call; the message says why."""


class HostChannel:
    def __init__(self, reader: BinaryIO, send: Callable[[bytes], None]) -> None:
        self._reader = reader
        self._send = send

    def call(self, op: str, args: dict[str, Any]) -> Any:
        """The call's result; HostCallFailed with the host's message when it was refused."""
        request = json.dumps({"op": op, "args": args}, ensure_ascii=False, separators=(",", ":"))
        answer = json.loads(self.call_raw(request.encode("utf-8", "surrogatepass")))
        if "error" in answer:
            raise HostCallFailed(str(answer["error"]))
        return answer.get("ok")

    def call_raw(self, request: bytes) -> bytes:
        """Send one call frame and read the answer frame (JSON bytes)."""
        self._send(protocol.encode_reply(protocol.HOST_CALL, request))
        header = self._reader.read(protocol.REQUEST_HEADER.size)
        if len(header) < protocol.REQUEST_HEADER.size:
            raise GuestFailure("the runner lost its parent during a host API call")
        length, _ = protocol.REQUEST_HEADER.unpack(header)
        payload = self._reader.read(length)
        if len(payload) < length:
            raise GuestFailure("the runner lost its parent during a host API call")
        return payload
