"""Task declarations; `tasks.broker` is the broker with every task declared (the message
contracts and queue names live below every package, in `contracts/`).

The task modules are imported on first access to `tasks.broker`, not when the package is: a
process that only publishes jobs (the web, through `tasks.publish`) does not load the compiler's
and the executor's tasks.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "broker":
        from tasks import apply_result, compile, dispatch_events, run_execution  # noqa: F401 - declare them
        from tasks.app import broker

        return broker
    raise AttributeError(f"module 'tasks' has no attribute {name!r}")
