"""Log capping, trace formatting and crash messages of the runner."""

from __future__ import annotations

from runner.assemblyscript.abi import format_trace
from runner.logs import TRUNCATED_MARKER, LogBuffer
from runner.messages import died_message


def test_log_buffer_keeps_lines_within_the_limit():
    logs = LogBuffer(max_bytes=100)
    logs.append("first")
    logs.append("second")

    assert logs.text() == "first\nsecond"
    assert not logs.truncated


def test_log_buffer_cuts_at_the_limit_and_marks_truncation():
    logs = LogBuffer(max_bytes=10)
    logs.append("12345")
    logs.append("67890abc")
    logs.append("never shown")

    assert logs.truncated
    assert logs.text() == "12345\n6789" + TRUNCATED_MARKER
    assert len(logs.text().removesuffix(TRUNCATED_MARKER).encode()) == 10


def test_log_buffer_counts_utf8_bytes_and_never_splits_a_character():
    logs = LogBuffer(max_bytes=5)
    logs.append("ééé")  # 6 bytes in UTF-8

    assert logs.text() == "éé" + TRUNCATED_MARKER


def test_format_trace_renders_like_the_assemblyscript_loader():
    assert format_trace("msg", 0, (1.0, 2.0, 0.0, 0.0, 0.0)) == "msg"
    assert format_trace("msg", 2, (1.0, 2.5, 9.0, 0.0, 0.0)) == "msg 1, 2.5"
    assert format_trace("nan", 1, (float("nan"), 0, 0, 0, 0)) == "nan nan"


def test_died_message_names_the_signal():
    assert died_message(-9).startswith("runner subprocess died (signal 9, SIGKILL)")
    assert died_message(3).startswith("runner subprocess died (exit status 3)")
