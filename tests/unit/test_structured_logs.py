"""Structured log lines: JSON with the event name and correlation ids."""

import json
import logging
import re

from infra.logs import ConsoleFormatter, JsonFormatter, configure_logging, event
from infra.settings import log_format_from


def _record(name: str, **fields) -> logging.LogRecord:
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("test.console")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        event(logger, name, **fields)
    finally:
        logger.removeHandler(handler)
    return records[0]


def test_event_is_one_json_line_with_its_fields():
    record = _record("function.created", functionId="f-1", language="javascript")

    line = json.loads(JsonFormatter("web").format(record))

    assert line["event"] == "function.created"
    assert line["functionId"] == "f-1" and line["language"] == "javascript"
    assert line["process"] == "web" and line["level"] == "info"


def test_console_format_is_one_readable_line_with_the_same_fields():
    record = _record("execution.failed", executionId="e-1", error="boom at line 2", durationMs=1.5)

    line = ConsoleFormatter("web").format(record)

    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} info    execution\.failed "
        r'executionId=e-1 error="boom at line 2" durationMs=1\.5',
        line,
    ), line


def test_the_format_is_chosen_by_setting():
    configure_logging("web", log_format=log_format_from({"PNIL_LOG_FORMAT": "console"}))
    assert isinstance(logging.getLogger().handlers[0].formatter, ConsoleFormatter)
    configure_logging("web", log_format=log_format_from({}))
    assert type(logging.getLogger().handlers[0].formatter) is JsonFormatter


def test_event_writes_the_formatters_line_itself_and_never_raises(monkeypatch):
    import io

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("web")
        handler = logging.getLogger().handlers[0]
        monkeypatch.setattr(handler, "stream", io.StringIO())
        log = logging.getLogger("pnil.test")
        event(log, "execution.completed", executionId="e-1", durationMs=1.5)
        written = json.loads(handler.stream.getvalue())
        expected = json.loads(handler.formatter.line(0.0, "INFO", "pnil.test", "execution.completed", {}))
        assert {k: v for k, v in written.items() if k != "ts"} == {
            **{k: v for k, v in expected.items() if k != "ts"},
            "executionId": "e-1",
            "durationMs": 1.5,
        }
        circular: list = []
        circular.append(circular)
        event(log, "odd.fields", value=circular)  # unencodable: the logging module reports it
        event(log, "after", n=1)
        assert json.loads(handler.stream.getvalue().splitlines()[-1])["event"] == "after"
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
