"""Publishing an event: its row, and a dispatch message only when some function may subscribe."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from broker import Broker
from contracts.queues import DISPATCH_EVENT_TASK, EVENTS
from contracts.statuses import LifecycleState


def subscribed_sql(tenant_sql: str, type_sql: str) -> str:
    """True when an ACTIVE EVENT function or workflow of the tenant has a pattern that may match the
    type (LIKE over-approximates `prefix.*`; the dispatcher matches exactly). Both arguments must
    name columns outside the subqueries (qualified), not bare names functions or workflows share."""
    matches = f"(p = {type_sql} OR p = '*' OR (p LIKE '%%.*' AND {type_sql} LIKE left(p, -1) || '%%'))"
    return f"""(EXISTS (
        SELECT 1 FROM functions f, unnest(f.event_types) p
        WHERE f.tenant_id = {tenant_sql} AND f.trigger_type = 'EVENT' AND f.state =
            '{LifecycleState.ACTIVE}' AND {matches}
    ) OR EXISTS (
        SELECT 1 FROM workflows w, unnest(w.event_types) p
        WHERE w.tenant_id = {tenant_sql} AND w.trigger_type = 'EVENT' AND w.state =
            '{LifecycleState.ACTIVE}' AND {matches}
    ))"""


def _dispatch(ev: str, *, if_subscribed: bool = True) -> str:
    """SELECT that sends the dispatch message of the events in CTE `ev` (of those someone, an EVENT
    function or workflow, may receive, unless `if_subscribed` is false: all were checked)."""
    send = Broker.send_sql(
        f"'{EVENTS}'", f"jsonb_build_object('eventId', {ev}.id)", f'\'{{"task": "{DISPATCH_EVENT_TASK}"}}\''
    )
    subscribed = f" WHERE {subscribed_sql(f'{ev}.tenant_id', f'{ev}.type')}" if if_subscribed else ""
    return f"SELECT {send} FROM {ev}{subscribed}"


def publish_ctes(
    name: str,
    source: str,
    *,
    type_sql: str,
    payload_sql: str,
    depth_sql: str,
    execution_sql: str,
    id_sql: str | None = None,
    at_sql: str | None = None,
    only_subscribed: bool = False,
) -> tuple[str, str]:
    """CTEs that publish one event per row of CTE `source` inside a caller's statement.

    `id_sql` and `at_sql` give the event's id and time (default: a random id, now()).
    `only_subscribed`: the row is written only when someone may receive the event (pnil's
    execution events, which GET /events otherwise reads from the execution rows themselves).
    Returns (the CTE text, an expression the caller must select so the dispatch send runs).
    """
    columns = "tenant_id, type, payload, depth, source_execution_id"
    values = f"tenant_id, {type_sql}, {payload_sql}, {depth_sql}, {execution_sql}"
    if id_sql is not None:
        columns, values = f"{columns}, id", f"{values}, {id_sql}"
    if at_sql is not None:
        columns, values = f"{columns}, created_at", f"{values}, {at_sql}"
    rows = f"SELECT {values} FROM {source}"
    if only_subscribed:
        rows = f"SELECT * FROM ({rows}) e ({columns}) WHERE {subscribed_sql('e.tenant_id', 'e.type')}"
    ctes = f"""{name} AS (
    INSERT INTO events ({columns})
    {rows}
    RETURNING id, tenant_id, type
), {name}_sent AS ({_dispatch(name, if_subscribed=not only_subscribed)})"""
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
