"""A message read from a pgmq queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """One delivery of a queued message; `read_ct` counts deliveries including this one."""

    queue: str
    msg_id: int
    read_ct: int
    enqueued_at: datetime
    vt: datetime
    body: Any
    headers: dict[str, Any]

    @classmethod
    def from_row(cls, queue: str, row: tuple) -> Message:
        """Build from a pgmq.message_record row.

        Columns: msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers.
        """
        msg_id, read_ct, enqueued_at, _last_read_at, vt, body, headers = row
        return cls(
            queue=queue,
            msg_id=msg_id,
            read_ct=read_ct,
            enqueued_at=enqueued_at,
            vt=vt,
            body=body,
            headers=headers if isinstance(headers, dict) else {},
        )

    @property
    def task_name(self) -> str | None:
        """The task this message is addressed to, from its headers."""
        name = self.headers.get("task")
        return name if isinstance(name, str) else None
