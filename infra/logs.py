"""Structured logs: one JSON object per line, an `event` name and correlation ids."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

from infra import json_text

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonFormatter(logging.Formatter):
    """Formats a record as a JSON line; extra fields passed by `event()` become keys."""

    def __init__(self, process_name: str) -> None:
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "_fields", None)
        if fields is None:
            fields = {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return self.line(
            record.created, record.levelname, record.name, record.getMessage(), fields, exception
        )

    def line(
        self, created: float, level: str, logger: str, name: str, fields: dict, exception: str | None = None
    ) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            + f".{int(created * 1000) % 1000:03d}Z",
            "level": level.lower(),
            "process": self.process_name,
            "pid": os.getpid(),
            "logger": logger,
            "event": name,
        }
        line.update(fields)
        if exception is not None:
            line["exception"] = exception
        return json_text.dumps(line, default=str, ensure_ascii=True)


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
    global _direct
    _direct = (root.handlers, handler) if formatter is JsonFormatter else None


# (root's handler list, pnil's JSON handler) while that handler is root's only one: `event` then
# writes its line itself, a third of the logging module's time per line (3 lines per request).
# Anything else attached (a test's capture, a console format) takes the logging module's path.
_direct: tuple[list, logging.StreamHandler] | None = None


def event(
    logger: logging.Logger, name: str, *, level: int = logging.INFO, exc_info: bool = False, **fields
) -> None:
    """Log a named event (e.g. `function.created`) with its correlation fields."""
    if not logger.isEnabledFor(level):
        return
    direct = _direct
    if (
        direct is not None
        and not exc_info
        and not logger.handlers
        and logger.propagate
        and direct[0] is logging.root.handlers
        and len(direct[0]) == 1
        and direct[0][0] is direct[1]
        and level >= direct[1].level
    ):
        handler = direct[1]
        try:
            text = handler.formatter.line(time.time(), logging.getLevelName(level), logger.name, name, fields)
            with handler.lock:
                handler.stream.write(text + "\n")
                handler.stream.flush()
            return
        except Exception:  # noqa: BLE001 - the logging module's path reports it its own way
            pass  # (a write that failed halfway may leave part of the line before it)
    # One dict for the formatter (cheap), and each field as an attribute for handlers/tests.
    logger.log(level, name, extra={**fields, "_fields": fields}, exc_info=exc_info)
