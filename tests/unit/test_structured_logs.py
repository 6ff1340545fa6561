"""Structured log lines: JSON with the event name and correlation ids."""

import json
import logging

from infra.logs import JsonFormatter, event


def test_event_is_one_json_line_with_its_fields():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("test.structured")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        event(logger, "function.created", functionId="f-1", language="javascript")
    finally:
        logger.removeHandler(handler)
    line = json.loads(JsonFormatter("web").format(records[0]))
    assert line["event"] == "function.created"
    assert line["functionId"] == "f-1" and line["language"] == "javascript"
    assert line["process"] == "web" and line["level"] == "info"
