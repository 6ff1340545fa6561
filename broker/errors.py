"""Exceptions of the broker, and the two a task may raise on purpose."""

from __future__ import annotations


class BrokerError(Exception):
    """Base of every broker failure."""


class TaskDeclarationError(BrokerError):
    """A task was declared with a duplicate name or an unknown option."""


class Reject(BrokerError):  # noqa: N818 - named for what the task does, like dramatiq's Retry
    """Raised by a task: the message is permanently bad; archive it as dead now."""


class Retry(BrokerError):  # noqa: N818
    """Raised by a task: try again after `delay` seconds (counts against max_retries)."""

    def __init__(self, message: str = "retry requested", *, delay: float | None = None):
        super().__init__(message)
        self.delay = delay


class Postpone(BrokerError):  # noqa: N818
    """Raised by a task: not now (e.g. no free slot); hide the message `delay` seconds, quietly.

    Unlike Retry it logs at debug level only; it still counts as a delivery (read_ct).
    """

    def __init__(self, delay: float, reason: str = "postponed"):
        super().__init__(reason)
        self.delay = delay
