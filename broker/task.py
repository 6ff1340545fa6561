"""A declared task: a function bound to a queue with its delivery options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from broker.retry import RetryPolicy


class Sender(Protocol):
    """What a task needs of its broker: sending (broker.Broker is one; the registry imports this
    module, so this module does not import it back)."""

    def send(
        self,
        queue: str,
        payload: Any,
        *,
        task: str | None = None,
        delay_s: int = 0,
        conn: psycopg.Connection | None = None,
    ) -> int: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    """Call `send(**payload)` to enqueue; the worker calls `fn(payload, delivery)`."""

    name: str
    queue: str
    fn: Callable[[dict[str, Any], Any], Any]  # (payload, broker.delivery.Delivery)
    visibility_timeout_s: int
    retry: RetryPolicy
    broker: Sender
    on_dead: Callable[[dict[str, Any], str], None] | None = None
    batch: int = 1
    # When set, reads take about this many seconds of the queue's work, at most `batch` messages.
    batch_s: float | None = None
    session: dict[str, str] = field(default_factory=dict)  # settings of the worker's connection
    # fn(connection) the worker calls on a consumer thread's connection before it waits, stops,
    # or after a read that did not fill its batch or whose message failed: the task records what
    # it deferred to its next message (see Broker.task).
    settle: Callable[[psycopg.Connection], None] | None = None

    def send(self, *, _delay_s: int = 0, **payload: Any) -> int:
        """Enqueue a message for this task in its own transaction; returns the pgmq msg_id."""
        return self.broker.send(self.queue, payload, task=self.name, delay_s=_delay_s)

    def send_with(self, conn: psycopg.Connection, *, _delay_s: int = 0, **payload: Any) -> int:
        """Enqueue within the caller's connection/transaction, so it commits with their rows."""
        return self.broker.send(self.queue, payload, task=self.name, delay_s=_delay_s, conn=conn)

    def __call__(self, payload: dict[str, Any], delivery: Any) -> Any:
        return self.fn(payload, delivery)
