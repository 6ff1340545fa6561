"""executor process: run queued executions (async API, cron, events) through the execution service."""

from __future__ import annotations

import math
import threading
import time
import uuid
from datetime import datetime

from broker import Postpone, Reject
from contracts.queues import EXECUTIONS, RUN_EXECUTION_TASK
from executions.service import ExecutionService
from executions.sweep import sweep_every
from infra.database import ForkSafePool
from infra.secretbox import SecretBox
from infra.settings import Settings
from runner.sandbox.pool import RunnerPool
from tasks.app import broker

# A function whose slots are all busy is not asked again for this long by this process: its
# other queued messages are postponed without a database round trip, so a flood of one function
# costs little and the executor reaches other functions' executions.
BUSY_MEMO_S = 0.25
MAX_POSTPONE_S = 5

_state: dict[str, object] = {}
_busy_until: dict[uuid.UUID, float] = {}
_lock = threading.Lock()


# Queued executions are taken in turns of their tenant (as compile jobs are): one tenant's backlog
# (a burst, a retry storm, a wide group) does not hold up another tenant's next execution.
broker.read_fairly(EXECUTIONS, key="tenantId")


@broker.on_worker_start(EXECUTIONS)
def start_service(settings: Settings | None) -> None:
    """Build this process's execution service and start the sweep it owns."""
    settings = settings or Settings(database_url=broker.db.dsn)
    db = ForkSafePool(
        settings.database_url,
        max_size=settings.executor_pool_size,
        name="executor",
        timeout_s=settings.db_timeout_s,
    )
    box = SecretBox(settings.secret_key, settings.secret_keys_previous)
    ExecutionService.check_secret_key(db, box)  # refuse to start without the key of stored secrets
    runners = RunnerPool(settings.runner_pool_size, max_time_cap_ms=settings.max_execution_time_cap_ms)
    _state["service"] = ExecutionService(
        db, runners, slot_wait_s=settings.slot_wait_s, quotas=settings.quotas, secret_box=box
    )
    _state["sweep"] = sweep_every(db, settings.sweep_every_s, threading.Event(), settings.retention)


def service() -> ExecutionService:
    """This process's service (the worker-start hook builds it)."""
    return _state["service"]  # type: ignore[return-value]


def _ids(payload: dict) -> tuple[uuid.UUID, uuid.UUID | None]:
    try:
        function_id = payload.get("functionId")
        return uuid.UUID(payload["executionId"]), uuid.UUID(function_id) if function_id else None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise Reject(f"malformed execution message: {exc!r}") from exc


def _created_at(payload: dict) -> datetime | None:
    """The execution's createdAt when the message carries it (messages sent before it did not)."""
    try:
        return datetime.fromisoformat(payload["createdAt"])
    except (KeyError, TypeError, ValueError):
        return None


@broker.task(
    queue=EXECUTIONS,
    name=RUN_EXECUTION_TASK,
    # A queued execution starts at most once (compare-and-set), so redeliveries are harmless;
    # postponements for a busy function count as deliveries and must never dead-letter it.
    max_retries=1_000_000_000,
    visibility_timeout=30,
    # A read takes about 100 ms of executions (at most 64): a drain of short ones pays the fair
    # read's pass over the queue once per many, while a backlog of long ones is read a few at a
    # time, so that another tenant's execution queued behind it is read soon (the fair turn).
    batch=64,
    batch_s=0.1,
    # Its two statements (start, finish) touch partitioned tables: PostgreSQL's default plan
    # cache keeps re-planning them per call (about half of their cost); the generic plan prunes
    # partitions when it runs and is as good for these single-row lookups.
    session={"plan_cache_mode": "force_generic_plan"},
    # A thread's execution ends are recorded by the statement starting its next one; the worker
    # settles the last one when no next one follows at once.
    settle=lambda conn: service().flush_queued_end(conn),
)
def run_execution(payload: dict, delivery) -> None:
    """Start the execution at most once (PENDING -> RUNNING compare-and-set), run it, record it."""
    execution_id, function_id = _ids(payload)
    delay = min(MAX_POSTPONE_S, max(1, delivery.read_ct))
    if function_id is not None:
        with _lock:
            busy = _busy_until.get(function_id, 0.0) > time.monotonic()
        if busy:
            # The end this thread deferred may hold a slot of this very function: record it, or
            # the thread could keep postponing that function's messages while holding it.
            service().flush_queued_end(delivery.connection)
            raise Postpone(delay, "every slot of the function is busy")
    outcome = service().run_queued(
        execution_id,
        function_id,
        message=(delivery.message.queue, delivery.message.msg_id),
        on_acknowledged=delivery.acknowledge,
        conn=delivery.connection,
        created_at=_created_at(payload),
        defer_end=True,
    )
    if outcome.wait_s > 0:  # delivered before it is due (an early redelivery): hide it until then
        raise Postpone(math.ceil(outcome.wait_s), "not due yet (scheduledFor)")
    if outcome.busy:
        if function_id is not None:
            with _lock:
                _busy_until[function_id] = time.monotonic() + BUSY_MEMO_S
        raise Postpone(delay, "every slot of the function is busy")
    if function_id is not None:
        with _lock:
            _busy_until.pop(function_id, None)
