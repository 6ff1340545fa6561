"""The wire format between the pool and its subprocesses: length-prefixed binary frames.

Request (parent → child): ``<II`` (meta length, artifact length), a JSON array of the
scalar fields, then the raw artifact bytes (never pickled or base64-encoded).
Reply (child → parent): ``<cI`` (kind, length) and a payload. Kinds: ``H`` ready,
``C`` compiling started, ``X`` compiling finished, ``A`` a host API call of the running code
(a JSON object; the parent answers with ``<II`` (length, 0) and a JSON payload before the run
goes on), ``R`` the result (a JSON array).
"""

from __future__ import annotations

import json
import struct

import orjson

from runner.contract import Language, Limits, RunRequest, RunResult, RunStatus

REQUEST_HEADER = struct.Struct("<II")
REPLY_HEADER = struct.Struct("<cI")

HELLO = b"H"
COMPILING = b"C"
COMPILED = b"X"
RESULT = b"R"
HOST_CALL = b"A"

_STATUSES = {status.value: status for status in RunStatus}
_LANGUAGES = {language.value: language for language in Language}


def encode_request(request: RunRequest) -> list[bytes]:
    """The request as buffers for one ``os.writev``."""
    limits = request.limits
    meta = _dump(
        request.language.value,
        request.input_json,
        limits.max_execution_time_ms,
        limits.max_memory_bytes,
        limits.max_output_size_bytes,
        limits.max_log_bytes,
        request.execution_id,
        request.context_json,
    )
    artifact = request.artifact
    return [REQUEST_HEADER.pack(len(meta), len(artifact)), meta, artifact]


def decode_request(meta: bytes, artifact: bytes) -> RunRequest:
    """The inverse of :func:`encode_request` (header already consumed)."""
    language, input_json, time_ms, memory, output, logs, execution_id, context_json = _load(meta)
    return RunRequest(
        language=_LANGUAGES[language],
        artifact=artifact,
        input_json=input_json,
        limits=Limits(
            max_execution_time_ms=time_ms,
            max_memory_bytes=memory,
            max_output_size_bytes=output,
            max_log_bytes=logs,
        ),
        execution_id=execution_id,
        context_json=context_json,
    )


def encode_answer(payload: bytes) -> list[bytes]:
    """The parent's answer to a host call, as buffers for one ``os.writev``."""
    return [REQUEST_HEADER.pack(len(payload), 0), payload]


def encode_reply(kind: bytes, payload: bytes = b"") -> bytes:
    """One reply frame."""
    return REPLY_HEADER.pack(kind, len(payload)) + payload


def encode_result(result: RunResult) -> bytes:
    """A result frame."""
    payload = _dump(
        result.status.value,
        result.output_json,
        result.error_message,
        result.logs,
        result.duration_ms,
        result.memory_peak_bytes,
        result.retry_requested,
        result.retry_delay_ms,
    )
    return encode_reply(RESULT, payload)


def decode_result(payload: bytes) -> RunResult:
    """The inverse of :func:`encode_result` (payload only)."""
    status, output, error, logs, duration_ms, memory, retry, retry_delay_ms = _load(payload)
    return RunResult(
        status=_STATUSES[status],
        output_json=output,
        error_message=error,
        logs=logs,
        duration_ms=duration_ms,
        memory_peak_bytes=memory,
        retry_requested=retry,
        retry_delay_ms=retry_delay_ms,
    )


# A lone surrogate in a guest's text (broken UTF-16) crosses the pipe unchanged instead of
# failing the whole frame.
def _dump(*values) -> bytes:
    try:
        return orjson.dumps(values)  # the common case, a tenth of the json module's time
    except TypeError:  # a lone surrogate, an integer past 64 bits
        return json.dumps(values, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def _load(frame: bytes) -> list:
    return json.loads(frame.decode("utf-8", errors="surrogatepass"))
