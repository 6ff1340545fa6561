"""Structured logs: one JSON object per line, an `event` name and correlation ids."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonFormatter(logging.Formatter):
    """Formats a record as a JSON line; extra fields passed by `event()` become keys."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "process": self.process_name,
            "pid": os.getpid(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "_fields", None)
        if fields is not None:
            line.update(fields)
        else:
            for key, value in vars(record).items():
                if key not in _RESERVED and not key.startswith("_"):
                    line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(process_name: str, level: str = "INFO") -> None:
    """Send every log record of this process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING)


def event(
    logger: logging.Logger, name: str, *, level: int = logging.INFO, exc_info: bool = False, **fields
) -> None:
    """Log a named event (e.g. `function.created`) with its correlation fields."""
    if logger.isEnabledFor(level):
        # One dict for the formatter (cheap), and each field as an attribute for handlers/tests.
        logger.log(level, name, extra={**fields, "_fields": fields}, exc_info=exc_info)
