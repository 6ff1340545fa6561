"""Publishing an event: its row, and a dispatch message only when some function may subscribe."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from broker import Broker
from tasks.contracts import DISPATCH_EVENT_TASK, EVENTS

# One round trip. The dispatch message is sent only when an ACTIVE EVENT function of the tenant
# has a pattern that may match (LIKE over-approximates `prefix.*`; the dispatcher matches
# exactly), so the jsruntime.* events of every execution cost no queue traffic when nobody
# listens. The event row is always kept: GET /events shows it.
_PUBLISH = f"""
WITH ev AS (
    INSERT INTO events (tenant_id, type, payload, depth, source_execution_id)
    VALUES (%(tenant)s, %(type)s, %(payload)s, %(depth)s, %(source)s)
    RETURNING id, tenant_id, type
)
SELECT ev.id, (
    SELECT {Broker.send_sql("%(queue)s", "jsonb_build_object('eventId', ev.id)", "%(headers)s")}
    WHERE EXISTS (
        SELECT 1 FROM functions f, unnest(f.event_types) p
        WHERE f.tenant_id = ev.tenant_id AND f.trigger_type = 'EVENT' AND f.state = 'ACTIVE'
          AND (p = ev.type OR p = '*' OR (p LIKE '%%.*' AND ev.type LIKE left(p, -1) || '%%'))
    )
) AS msg_id
FROM ev
"""


def publish(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
    *,
    depth: int = 0,
    source_execution_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Record an event of the tenant in the caller's transaction and queue its dispatch."""
    return conn.execute(
        _PUBLISH,
        {
            "tenant": tenant_id,
            "type": event_type,
            "payload": Jsonb(payload),
            "depth": depth,
            "source": source_execution_id,
            "queue": EVENTS,
            "headers": Jsonb({"task": DISPATCH_EVENT_TASK}),
        },
    ).fetchone()[0]
