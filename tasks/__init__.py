"""Task definitions; importing this package declares every task on `tasks.app.broker`."""

from tasks import apply_result, compile, run_execution  # noqa: F401 - imported to declare the tasks
from tasks.app import broker

__all__ = ["broker"]
