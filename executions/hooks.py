"""Callbacks on an execution's start and end, whatever its trigger (metrics, domain events, ...)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg

from infra.logs import event

log = logging.getLogger(__name__)

Hook = Callable[[psycopg.Connection, dict[str, Any]], None]
_started: list[Hook] = []
_finished: list[Hook] = []


def on_started(fn: Hook) -> Hook:
    """Register `fn(conn, execution_row)`, called once an execution is RUNNING."""
    _started.append(fn)
    return fn


def on_finished(fn: Hook) -> Hook:
    """Register `fn(conn, execution_row)`, called once it is COMPLETED/FAILED/TIMEOUT/CANCELLED."""
    _finished.append(fn)
    return fn


def _call(hooks: list[Hook], conn: psycopg.Connection, row: dict[str, Any]) -> None:
    for hook in hooks:
        try:
            hook(conn, row)
        except Exception:  # noqa: BLE001 - a subscriber never breaks the execution it observes
            event(
                log,
                "execution.hook_failed",
                level=logging.ERROR,
                executionId=str(row.get("id")),
                hook=getattr(hook, "__qualname__", repr(hook)),
                exc_info=True,
            )


def started(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """Tell every on_started subscriber."""
    if _started:
        _call(_started, conn, row)


def finished(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """Tell every on_finished subscriber."""
    if _finished:
        _call(_finished, conn, row)
