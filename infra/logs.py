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


class ConsoleFormatter(JsonFormatter):
    """For people at a terminal: `12:00:01.234 info  execution.completed functionId=… durationMs=0.9`."""

    def format(self, record: logging.LogRecord) -> str:
        line = json.loads(super().format(record))
        stamp = line.pop("ts")[11:23]
        level, name = line.pop("level"), line.pop("event")
        exception = line.pop("exception", None)
        for key in ("process", "pid", "logger"):
            line.pop(key, None)
        fields = " ".join(f"{k}={_console_value(v)}" for k, v in line.items())
        text = f"{stamp} {level:<7} {name} {fields}".rstrip()
        return f"{text}\n{exception}" if exception else text


def _console_value(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (" " in text or not text) else text


def configure_logging(process_name: str, level: str = "INFO", log_format: str = "json") -> None:
    """Send every log record of this process to stderr: JSON lines (the default) or, with
    log_format `console` (the setting PNIL_LOG_FORMAT), one readable line each."""
    formatter = ConsoleFormatter if log_format == "console" else JsonFormatter
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(process_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
    # A line carries none of the caller's file, line, thread or process name: not working them
    # out for every record is the logging module's own documented optimization.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def event(
    logger: logging.Logger, name: str, *, level: int = logging.INFO, exc_info: bool = False, **fields
) -> None:
    """Log a named event (e.g. `function.created`) with its correlation fields."""
    if logger.isEnabledFor(level):
        # One dict for the formatter (cheap), and each field as an attribute for handlers/tests.
        logger.log(level, name, extra={**fields, "_fields": fields}, exc_info=exc_info)
