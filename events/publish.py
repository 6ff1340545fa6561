"""Publishing an event: its row, and a dispatch message only when some function may subscribe."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from broker import Broker
from contracts.queues import DISPATCH_EVENT_TASK, EVENTS
from contracts.statuses import LifecycleState


def _dispatch_if_subscribed(ev: str) -> str:
    """SELECT that sends the dispatch message of the events in CTE `ev` that someone (an EVENT
    function or workflow) may receive."""
    send = Broker.send_sql(
        f"'{EVENTS}'", f"jsonb_build_object('eventId', {ev}.id)", f'\'{{"task": "{DISPATCH_EVENT_TASK}"}}\''
    )
    matches = f"(p = {ev}.type OR p = '*' OR (p LIKE '%%.*' AND {ev}.type LIKE left(p, -1) || '%%'))"
    return f"""SELECT {send} FROM {ev} WHERE EXISTS (
        SELECT 1 FROM functions f, unnest(f.event_types) p
        WHERE f.tenant_id = {ev}.tenant_id AND f.trigger_type = 'EVENT' AND f.state =
            '{LifecycleState.ACTIVE}' AND {matches}
    ) OR EXISTS (
        SELECT 1 FROM workflows w, unnest(w.event_types) p
        WHERE w.tenant_id = {ev}.tenant_id AND w.trigger_type = 'EVENT' AND w.state =
            '{LifecycleState.ACTIVE}' AND {matches}
    )"""


def publish_ctes(
    name: str, source: str, *, type_sql: str, payload_sql: str, depth_sql: str, execution_sql: str
) -> tuple[str, str]:
    """CTEs that publish one event per row of CTE `source` inside a caller's statement.

    Returns (the CTE text, an expression the caller must select so the dispatch send runs).
    """
    ctes = f"""{name} AS (
    INSERT INTO events (tenant_id, type, payload, depth, source_execution_id)
    SELECT tenant_id, {type_sql}, {payload_sql}, {depth_sql}, {execution_sql} FROM {source}
    RETURNING id, tenant_id, type
), {name}_sent AS ({_dispatch_if_subscribed(name)})"""
    return ctes, f"(SELECT count(*) FROM {name}_sent)"


# One round trip. The dispatch message is sent only when an ACTIVE EVENT function of the tenant
# has a pattern that may match (LIKE over-approximates `prefix.*`; the dispatcher matches
# exactly), so the jsruntime.* events of every execution cost no queue traffic when nobody
# listens. The event row is always kept: GET /events shows it.
_CTES, _SENT = publish_ctes(
    "ev",
    "src",
    type_sql="type",
    payload_sql="payload",
    depth_sql="depth",
    execution_sql="source_execution_id",
)
_PUBLISH = f"""
WITH src AS (
    SELECT %(tenant)s::uuid AS tenant_id, %(type)s::text AS type, %(payload)s::jsonb AS payload,
           %(depth)s::integer AS depth, %(source)s::uuid AS source_execution_id
), {_CTES}
SELECT ev.id, %(durable)s OR set_config('synchronous_commit', 'off', true) IS NOT NULL, {_SENT} FROM ev
"""


def publish(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
    *,
    depth: int = 0,
    source_execution_id: uuid.UUID | None = None,
    durable: bool = True,
) -> uuid.UUID:
    """Record an event of the tenant in the caller's transaction and queue its dispatch.

    `durable=False` lets the commit skip waiting for its WAL flush (an execution's own events,
    which the synchronous end of the execution flushes anyway, or a later commit does).
    """
    return conn.execute(
        _PUBLISH,
        {
            "tenant": tenant_id,
            "type": event_type,
            "payload": Jsonb(payload),
            "depth": depth,
            "source": source_execution_id,
            "durable": durable,
        },
    ).fetchone()[0]
