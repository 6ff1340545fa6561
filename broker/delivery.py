"""What a running task knows about its message: the message, its heartbeat, its acknowledgement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg

from broker.heartbeat import Heartbeat
from broker.message import Message

if TYPE_CHECKING:
    from broker.task import Task


@dataclass(kw_only=True)
class Delivery:
    """What a running task knows about its message; it may extend its visibility."""

    message: Message
    task: Task
    _heartbeat: Heartbeat = field(repr=False)
    # The consumer thread's own autocommit connection, idle while the task runs: a task may use
    # it (e.g. to acknowledge in its own statement) instead of borrowing one from a pool.
    connection: psycopg.Connection | None = field(default=None, repr=False)
    acknowledged: bool = False

    @property
    def read_ct(self) -> int:
        return self.message.read_ct

    def acknowledge(self) -> None:
        """Tell the worker the task deleted its message itself (in its own transaction)."""
        self.acknowledged = True

    def extend_visibility(self, seconds: int) -> None:
        """Keep the message hidden for `seconds` more (long tasks; the heartbeat also does it)."""
        self._heartbeat.extend_now(self.message.queue, self.message.msg_id, seconds)
