"""The pool's wire format: requests and results survive the round trip exactly."""

from __future__ import annotations

from runner.contract import Language, Limits, RunRequest, RunResult, RunStatus
from runner.sandbox import protocol


def test_request_round_trip_keeps_every_field_and_raw_artifact_bytes():
    request = RunRequest(
        language=Language.WASM,
        artifact=bytes(range(256)) * 3,
        input_json='{"name": "Zoë 🎉", "lone": "\\ud800"}',
        limits=Limits(
            max_execution_time_ms=1234,
            max_memory_bytes=5 << 20,
            max_output_size_bytes=777,
            max_log_bytes=99,
        ),
        execution_id="exec-1",
    )

    header, meta, artifact = protocol.encode_request(request)
    meta_len, artifact_len = protocol.REQUEST_HEADER.unpack(header)

    assert (meta_len, artifact_len) == (len(meta), len(artifact))
    assert protocol.decode_request(meta, artifact) == request


def test_result_round_trip_including_lone_surrogates_in_logs():
    result = RunResult(
        status=RunStatus.TIMEOUT,
        output_json=None,
        error_message="execution exceeded the time limit",
        logs="line \ud83d one\nline two",
        duration_ms=12.5,
        memory_peak_bytes=65536,
    )

    frame = protocol.encode_result(result)
    kind, length = protocol.REPLY_HEADER.unpack_from(frame)

    assert kind == protocol.RESULT
    assert length == len(frame) - protocol.REPLY_HEADER.size
    assert protocol.decode_result(frame[protocol.REPLY_HEADER.size :]) == result
