"""Dispatch one event: a queued execution for every ACTIVE, READY EVENT function of its tenant that
subscribes to its type, exactly once per (event, function) even when the message is redelivered."""

from __future__ import annotations

import logging
import uuid

from broker import Reject
from contracts.queues import DISPATCH_EVENT_TASK, EVENTS
from events.names import matches
from executions.enqueue import enqueue_execution
from infra.logs import event
from infra.settings import MAX_EVENT_DEPTH, Settings
from store import events as store
from store import workflow_definitions as workflow_store
from store.quotas import QuotaExceeded
from tasks.app import broker, task_connection
from workflows import definitions
from workflows.canvas import CanvasError

log = logging.getLogger(__name__)
# Events caused by this many chained event-triggered executions are recorded, not delivered
# (the setting PNIL_MAX_EVENT_DEPTH, taken when the worker starts).
_limits = {"max_depth": MAX_EVENT_DEPTH}


@broker.on_worker_start(EVENTS)
def apply_settings(settings: Settings | None) -> None:
    """Take the event depth limit from this process's settings."""
    if settings is not None:
        _limits["max_depth"] = settings.max_event_depth


@broker.task(queue=EVENTS, name=DISPATCH_EVENT_TASK, max_retries=10, visibility_timeout=60, backoff=1)
def dispatch_event(payload: dict, delivery) -> None:
    """Fan the event out to its subscribers as queued executions (triggerType EVENT)."""
    try:
        event_id = uuid.UUID(payload["eventId"])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise Reject(f"malformed event message: {exc!r}") from exc
    with task_connection(delivery) as conn, conn.transaction():
        ev = store.get_any(conn, event_id)
        if ev is None:
            return  # its tenant was deleted meanwhile
        ids = {"eventId": str(event_id), "eventType": ev["type"], "tenantId": str(ev["tenant_id"])}
        max_depth = _limits["max_depth"]
        if ev["depth"] >= max_depth:
            store.mark_dispatched(conn, event_id, started=0, suppressed=True)
            event(
                log,
                "event.loop_suppressed",
                level=logging.WARNING,
                depth=ev["depth"],
                maxDepth=max_depth,
                **ids,
            )
            return
        started = 0
        for fn in store.subscribers(conn, ev["tenant_id"]):
            if not any(matches(p, ev["type"]) for p in fn["event_types"]):
                continue
            try:
                execution, created = _enqueue_for(conn, ev, fn, event_id)
            except QuotaExceeded as exc:
                event(
                    log,
                    "event.quota_refused",
                    level=logging.WARNING,
                    functionId=str(fn["id"]),
                    error=str(exc),
                    **ids,
                )
                continue
            started += int(created)
        started += _start_workflows(conn, ev)
        store.mark_dispatched(conn, event_id, started=started, suppressed=False)
    event(log, "event.dispatched", executions=started, **ids)


def _enqueue_for(conn, ev: dict, fn: dict, event_id):
    """Queue the subscriber's execution of the event (once: the key is the event and function)."""
    return enqueue_execution(
        conn,
        tenant_id=ev["tenant_id"],
        function_id=fn["id"],
        input=_event_input(ev),
        trigger_type="EVENT",
        trigger_data={"eventId": str(event_id), "eventType": ev["type"], "depth": ev["depth"] + 1},
        idempotency_key=f"event:{event_id}:{fn['id']}",
    )


def _start_workflows(conn, ev: dict) -> int:
    """A run of every ACTIVE EVENT workflow of the tenant subscribed to the event's type, once per
    (event, workflow); a workflow whose steps cannot run now is logged and skipped."""
    started = 0
    for workflow in workflow_store.event_subscribers(conn, ev["tenant_id"]):
        if not any(matches(p, ev["type"]) for p in workflow["event_types"]):
            continue
        try:
            with conn.transaction():
                run_id = definitions.start(
                    conn,
                    workflow,
                    _event_input(ev),
                    trigger_type="EVENT",
                    trigger_data={
                        "eventId": str(ev["id"]),
                        "eventType": ev["type"],
                        "depth": ev["depth"] + 1,
                    },
                    dedup_key=f"event:{ev['id']}:{workflow['id']}",
                )
        except CanvasError as exc:
            event(
                log,
                "event.workflow_not_started",
                level=logging.WARNING,
                workflow=workflow["name"],
                error=str(exc),
            )
            continue
        started += int(run_id is not None)
    return started


def _event_input(ev: dict) -> dict:
    """What a subscriber gets as input: the event."""
    return {
        "id": str(ev["id"]),
        "type": ev["type"],
        "payload": ev["payload"],
        "tenantId": str(ev["tenant_id"]),
        "occurredAt": ev["created_at"].isoformat(),
    }
