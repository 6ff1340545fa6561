"""Handling the due ticks of functions locked by a scheduler: what each does (pure), queueing the
executions of a batch in a few statements, starting workflow runs, and the log lines."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from contracts.statuses import LifecycleState, is_runnable
from executions.enqueue import Queued, enqueue_many
from infra.logs import event
from scheduler import ticks
from store import schedules as store
from store import workflow_definitions as definitions_store
from store.pending_batches import PendingRequest
from workflows import definitions
from workflows.canvas import CanvasError

log = logging.getLogger("scheduler.scheduler")


def iso(tick: datetime) -> str:
    return tick.astimezone(UTC).isoformat()


@dataclass(slots=True)
class Entry:
    """A function (or workflow, `kind`) as this scheduler holds it."""

    function_id: uuid.UUID
    cron: str
    timezone: str
    grace_s: int
    cursor: datetime
    next_at: datetime | None = None
    kind: str = "function"


@dataclass(slots=True)
class Plan:
    """One locked function's due ticks: what its row gets and what fires."""

    row: dict
    entry: Entry
    cursor: datetime  # the entry's cursor once this is done
    advance: store.Advance | None = None  # the row's cursor moves (some tick was due)
    fire: datetime | None = None  # the tick that fires
    decision: ticks.Decision | None = None
    queued: Queued | None = None  # what became of its execution (functions)
    started: int = 0  # 1 when it started a workflow run


def plan(row: dict, entry: Entry, now: datetime) -> Plan:
    """What to do about a locked function's due ticks (pure: nothing written yet)."""
    cursor = max(entry.cursor, row["schedule_cursor"])
    runs = (
        row["state"] == LifecycleState.ACTIVE
        and row["trigger_type"] == "SCHEDULED"
        and row["cron_expression"] == entry.cron
        and row["timezone"] == entry.timezone
    )
    decision = ticks.decide(entry.cron, entry.timezone, cursor, now, entry.grace_s) if runs else None
    if decision is None or decision.cursor is None:
        return Plan(row, entry, cursor)
    ready = is_runnable(row)  # ACTIVE already (`runs`): READY
    fire = decision.fire if ready else None
    advance = store.Advance(
        entry.function_id,
        cursor=decision.cursor,
        fired=fire,
        missed=decision.missed,
        skipped_not_ready=decision.fire is not None and not ready,
    )
    return Plan(row, entry, decision.cursor, advance, fire, decision)


def queue(conn: psycopg.Connection, plans: list[Plan]) -> int:
    """Queue the executions of the functions' ticks fired, a few statements for them all."""
    requests = [
        PendingRequest(
            tenant_id=plan.row["tenant_id"],
            function_id=plan.entry.function_id,
            trigger_type="CRON",
            trigger_data={
                "cron": plan.entry.cron,
                "timezone": plan.entry.timezone,
                "scheduledFor": iso(plan.fire),
            },
            idempotency_key=f"cron:{plan.entry.function_id}:{iso(plan.fire)}",
            input={},
        )
        for plan in plans
    ]
    for plan, queued in zip(plans, enqueue_many(conn, requests), strict=True):
        plan.queued = queued
    return sum(1 for plan in plans if plan.queued.created)


def start_run(conn: psycopg.Connection, row: dict, entry: Entry, scheduled_for: str) -> int:
    """A tick of a SCHEDULED workflow: a run of its current version (logged and skipped when a
    step's function cannot run now)."""
    workflow = definitions_store.by_id(conn, row["id"])
    try:
        with conn.transaction():
            run_id = definitions.start(
                conn,
                workflow,
                {},
                trigger_type="CRON",
                trigger_data={
                    "cron": entry.cron,
                    "timezone": entry.timezone,
                    "scheduledFor": scheduled_for,
                },
                dedup_key=f"cron:{row['id']}:{scheduled_for}",
            )
    except CanvasError as exc:
        event(
            log,
            "scheduler.tick_skipped",
            level=logging.WARNING,
            workflow=workflow["name"],
            reason=str(exc),
        )
        return 0
    if run_id is not None:
        event(
            log,
            "scheduler.fired",
            workflow=workflow["name"],
            runId=str(run_id),
            scheduledFor=scheduled_for,
        )
    return int(run_id is not None)


def log_handled(plan: Plan, done: datetime) -> None:
    """The log lines of one handled tick, once its transaction committed at `done`."""
    fid, decision = str(plan.entry.function_id), plan.decision
    if decision is None:
        return
    if decision.fire is not None and plan.fire is None:
        event(
            log,
            "scheduler.tick_skipped",
            level=logging.WARNING,
            functionId=fid,
            scheduledFor=decision.fire.isoformat(),
            reason=f"function is {plan.row['status']}, not READY",
        )
    if decision.missed:
        event(
            log,
            "scheduler.ticks_missed",
            level=logging.WARNING,
            functionId=fid,
            missed=decision.missed,
            graceS=plan.entry.grace_s,
        )
    queued = plan.queued
    if queued is not None and queued.refused is not None:
        # the tick is handled (not fired): the backlog must drain first
        event(
            log,
            "scheduler.quota_refused",
            level=logging.WARNING,
            functionId=fid,
            error=str(queued.refused),
        )
    elif queued is not None and queued.created:
        event(
            log,
            "scheduler.fired",
            functionId=fid,
            executionId=str(queued.execution["id"]),
            scheduledFor=iso(plan.fire),
            lateMs=round((done - plan.fire).total_seconds() * 1000, 1),
        )
