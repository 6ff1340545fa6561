"""Task definitions; importing this package declares every task on `tasks.app.broker`."""

import events.domain  # noqa: F401 - registers the jsruntime.execution.* hooks
from tasks import apply_result, compile, dispatch_events, run_execution  # noqa: F401 - imported to declare the tasks
from tasks.app import broker

__all__ = ["broker"]
