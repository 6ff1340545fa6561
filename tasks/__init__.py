"""Task declarations and message contracts; `tasks.broker` is the broker with every task declared.

The task modules are imported on first access to `tasks.broker` (not when the package is), so
that the service layers they use may import `tasks.contracts` without an import cycle.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "broker":
        from tasks import apply_result, compile, dispatch_events, run_execution  # noqa: F401 - declare them
        from tasks.app import broker

        return broker
    raise AttributeError(f"module 'tasks' has no attribute {name!r}")
