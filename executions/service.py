"""Running executions: admit (READY, ACTIVE, a free concurrency slot), record, run, record the end.

Every trigger goes through `ExecutionService`: the sync API and HTTP triggers call `execute`,
the executor calls `run_queued` for executions that `executions.enqueue` queued.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import psycopg

from contracts.statuses import CompileStatus, ExecutionStatus, LifecycleState, is_runnable
from executions.artifacts import ArtifactCache
from executions.cancel import CancelListener
from executions.fairness import SandboxAdmission
from hostapi.calls import HostApi
from hostapi.secrets import check_key
from infra import json_text, limits, metrics
from infra.database import ForkSafePool
from infra.logs import event
from infra.redact import Redactor
from infra.secretbox import SecretBox
from infra.storage_bounds import DEFAULT_QUOTAS, Quotas
from runner.contract import Language, Limits, RunRequest, RunResult, RunStatus
from runner.sandbox.pool import RunnerPool
from store import attempts, end_then_start, sync_end
from store import executions as store
from store import workflows as workflow_store
from store.audit import AuditLine
from workflows import handover

log = logging.getLogger(__name__)


class FunctionNotFound(LookupError):
    """No such function for this tenant."""


class NotRunnable(ValueError):
    """The function exists but cannot run now; the message says why and what to do."""


class SlotsBusy(RuntimeError):
    """Every concurrency slot of the function stayed busy for the whole wait."""


def not_runnable_reason(fn: dict[str, Any]) -> str | None:
    """Why a function may not run now (not READY, not ACTIVE), or None when it may."""
    if is_runnable(fn):
        return None
    if fn["status"] != CompileStatus.READY:
        hint = {
            CompileStatus.FAILED: "fix the source (see compileError) and update the function",
            CompileStatus.PENDING: "it is waiting to compile; poll GET /functions/{id} until status is READY",
            CompileStatus.COMPILING: "it is compiling; poll GET /functions/{id} until status is READY",
        }[fn["status"]]
        return f"function is not READY (status {fn['status']}): {hint}"
    if fn["state"] != LifecycleState.ACTIVE:
        return (
            f"function is {fn['state']}, only ACTIVE functions run: "
            'POST /functions/{id}/state {"state": "ACTIVE"}'
        )
    return None


def check_runnable(fn: dict[str, Any] | None, function_id: uuid.UUID) -> dict[str, Any]:
    """Raise unless the function exists, is READY and ACTIVE."""
    if fn is None:
        raise FunctionNotFound(f"function {function_id} not found")
    reason = not_runnable_reason(fn)
    if reason:
        raise NotRunnable(reason)
    return fn


@dataclass(frozen=True, slots=True)
class QueuedOutcome:
    """What `run_queued` did with one queued execution."""

    ran: bool = False  # it ran (or failed to start) and is finished
    dropped: bool = False  # not PENDING any more (cancelled, already run): nothing to do
    busy: bool = False  # every slot of its function is taken: try again later
    wait_s: float = 0.0  # not due yet (scheduledFor is this far ahead): try again then


@dataclass(frozen=True, slots=True)
class _EndToRecord:
    """A queued run that ended on a consumer thread's connection (which still holds its slot)
    and whose end is recorded by the statement that starts the thread's next execution, or by
    `flush_queued_end`."""

    fn: dict[str, Any]  # its start row
    result: RunResult
    join: handover.Join | None = None  # a workflow group member's: the join its end counts down


class ExecutionService:
    """One per process: database pool, runner pool, artifact cache and the cancel listener."""

    def __init__(
        self,
        db: ForkSafePool,
        runners: RunnerPool,
        *,
        slot_wait_s: float = 10.0,
        listen_for_cancels: bool = True,
        admission: SandboxAdmission | None = None,
        quotas: Quotas = DEFAULT_QUOTAS,
        secret_box: SecretBox | None = None,
    ) -> None:
        self.db = db
        self.secret_box = secret_box
        self.runners = runners
        self.admission = admission  # fair sharing of the sandboxes between tenants (sync path)
        self.artifacts = ArtifactCache()
        self.slot_wait_s = slot_wait_s
        self.quotas = quotas
        self._running: set[str] = set()
        self._recent_cancels: dict[str, float] = {}
        self._lock = threading.Lock()
        self._ends = threading.local()  # per consumer thread: its _EndToRecord, if any
        self._cancels = CancelListener(db.dsn, self._on_cancel) if listen_for_cancels else None

    @staticmethod
    def check_secret_key(db: ForkSafePool, box: SecretBox) -> None:
        """Raise SecretKeyError when secrets are stored and `box` cannot open them (at start)."""
        with db.connection() as conn:
            check_key(conn, box)

    def close(self) -> None:
        """Stop the cancel listener and the runner subprocesses."""
        if self._cancels is not None:
            self._cancels.close()
        self.runners.close()

    # -- sync -------------------------------------------------------------------------------
    def execute(
        self,
        tenant_id: uuid.UUID,
        function_id: uuid.UUID,
        input_value: Any,
        *,
        trigger_type: str = "API",
        trigger_data: Any = None,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        audit: AuditLine | None = None,
    ) -> dict[str, Any]:
        """Run synchronously (waiting up to `slot_wait_s` for a slot) and return the finished row.

        A key another execution of the tenant holds raises psycopg.errors.UniqueViolation; a
        tenant over its share of this process's sandboxes raises TenantBusy. `audit` is written
        by the statement that records the end (the row's `audited` says it was).
        """
        # The sandbox is held from before the start is recorded (a refused call records nothing)
        # until the run returns: recording its end (the synchronous commit) overlaps the next run.
        with ExitStack() as sandbox:
            if self.admission is not None:
                sandbox.enter_context(self.admission.admit(tenant_id))
            return self._execute(
                tenant_id,
                function_id,
                input_value,
                trigger_type,
                trigger_data,
                idempotency_key,
                request_hash,
                audit,
                ran=sandbox.close,
            )

    def _execute(
        self,
        tenant_id,
        function_id,
        input_value,
        trigger_type,
        trigger_data,
        idempotency_key,
        request_hash,
        audit=None,
        ran=None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.slot_wait_s
        pause = 0.005
        with self.db.connection() as conn:
            while True:
                # One round trip checks the function, takes a slot and records RUNNING.
                fn = self._guarded(
                    conn,
                    store.start_if_runnable,
                    conn,
                    tenant_id,
                    function_id,
                    self.artifacts.version(function_id),
                    input_value=input_value,
                    trigger_type=trigger_type,
                    trigger_data=trigger_data,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                )
                if fn is not None and fn["execution_id"] is not None:
                    break
                check_runnable(fn, function_id)
                if time.monotonic() + pause > deadline:
                    runs = limits.effective(fn["resource_limits"])["maxConcurrentRuns"]
                    raise SlotsBusy(
                        f"function {function_id} already runs {runs} executions "
                        "(resourceLimits.maxConcurrentRuns); retry later or raise the limit"
                    )
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
            return self._run_started(conn, fn, audit=audit, ran=ran)

    # -- queued -----------------------------------------------------------------------------
    def run_queued(
        self,
        execution_id: uuid.UUID,
        function_id: uuid.UUID | None = None,
        *,
        message: tuple[str, int] | None = None,
        on_acknowledged=None,
        conn: psycopg.Connection | None = None,
        created_at: Any = None,
        defer_end: bool = False,
    ) -> QueuedOutcome:
        """Start a PENDING execution if its function may run and has a free slot, run it, record it.

        `message` (queue, msg_id) is deleted as the execution starts (or is found not PENDING);
        `on_acknowledged()` is then called. `conn` (autocommit, idle) is used instead of the pool's.

        `defer_end` (a consumer thread that runs its executions one after another on `conn`):
        the end of this run is recorded by the statement that starts this thread's next one
        (one statement and one commit instead of two); the caller calls `flush_queued_end(conn)`
        when no next one follows at once. Of a workflow step's ends only a group member's
        COMPLETED one is deferred, and recorded with its join's count-down (`_end_then_start`).
        """
        if conn is None:
            with self.db.connection() as own:
                return self.run_queued(
                    execution_id,
                    function_id,
                    message=message,
                    on_acknowledged=on_acknowledged,
                    conn=own,
                    created_at=created_at,
                )
        cached = self.artifacts.version(function_id) if function_id else None
        pending = self._take_end()
        if pending is None:
            row = self._guarded(
                conn, store.start_queued, conn, execution_id, cached, message=message, created_at=created_at
            )
        else:
            row = self._end_then_start(conn, pending, execution_id, cached, message, created_at)
        if row["acknowledged"] and on_acknowledged is not None:
            on_acknowledged()
        if not row["pending"]:
            return QueuedOutcome(dropped=True)
        if row["execution_id"] is None:
            reason = self._not_started_reason(row)
            if reason is None:
                if row["slot_taken"] is not None:  # the row changed under us: give the slot back
                    store.release_slots(conn)
                    return QueuedOutcome(dropped=True)
                if row["wait_s"] > 0:
                    return QueuedOutcome(wait_s=row["wait_s"])
                return QueuedOutcome(busy=True)
            with conn.transaction():  # a workflow step's hand-over commits with its end
                ended = store.fail_pending(conn, execution_id, reason)
                if ended is not None:
                    handover.step_ended(conn, ended)
            if ended is not None:
                self._log_end(RunResult(status=RunStatus.FAILED, error_message=reason), self._ids(ended))
                metrics.final_failure(ended["trigger_type"])
            return QueuedOutcome(ran=True)
        self._run_started(conn, row, durable=False, defer=defer_end)
        return QueuedOutcome(ran=True)

    def flush_queued_end(self, conn: psycopg.Connection) -> None:
        """Record the end this thread deferred (`run_queued(defer_end=True)`), if any, on `conn`."""
        pending = self._take_end()
        if pending is None:
            return
        fn = pending.fn
        try:
            row, result = self._finish_run(conn, fn, pending.result, False, step=pending.join is not None)
        except psycopg.OperationalError:
            self._ends.pending = pending  # the next connection records it (unless the sweep did)
            raise
        except BaseException:
            _release_quietly(conn)
            raise
        self._ended(fn, row, result, missing_raises=False)

    def _take_end(self) -> _EndToRecord | None:
        pending = getattr(self._ends, "pending", None)
        self._ends.pending = None
        return pending

    def _end_then_start(self, conn, pending: _EndToRecord, execution_id, cached, message, created_at):
        """The deferred end and the next start in one statement; should PostgreSQL refuse it (an
        output it cannot store), the end is recorded alone (FAILED, see `_finish`), then the start."""
        fn = pending.fn
        end = attempts.end_params(
            fn["execution_id"], **_end_fields(pending.result), created_at=fn.get("execution_created_at")
        )
        start = store.start_queued_params(execution_id, cached, message=message, created_at=created_at)
        join = pending.join
        slot = (fn["slot_key"], fn["slot_taken"])
        try:
            row = end_then_start.end_then_start(
                conn, end, slot, start, None if join is None else workflow_store.member_end_params(*join)
            )
        except psycopg.OperationalError:
            self._ends.pending = pending
            _release_quietly(conn)
            raise
        except psycopg.Error:
            # Recorded alone; its statement frees every slot of the connection, the ended run's
            # and any the failed statement took.
            self._ends.pending = pending
            self.flush_queued_end(conn)
            return self._guarded(
                conn, store.start_queued, conn, execution_id, cached, message=message, created_at=created_at
            )
        except BaseException:
            _release_quietly(conn)
            raise
        ended = row["ended"]
        if ended is None and join is not None:
            # The join's last member (what follows it is queued now), or its run ended: the end
            # with its whole hand-over, in a transaction that frees its slot only.
            try:
                ended, result = self._finish_run(conn, fn, pending.result, False, step=True, slot=slot)
            except BaseException:
                _release_quietly(conn)
                raise
            self._ended(fn, ended, result, missing_raises=False)
            return row
        if ended is not None:
            ended["next_attempt_id"] = row["next_attempt_id"]
        self._ended(fn, ended, pending.result, missing_raises=False)
        return row

    @staticmethod
    def _not_started_reason(row: dict[str, Any]) -> str | None:
        """Why a PENDING execution that did not start never will (expired, function gone, not
        runnable, its pinned version replaced), or None when it only has to wait."""
        if row["expired"]:
            return store.EXPIRED_MESSAGE
        if row["id"] is None:
            return "function deleted"
        reason = not_runnable_reason(row)
        if reason is None and row["pinned_version"] not in (None, row["version"]):
            reason = (
                f"version {row['pinned_version']} is no longer the function's live version "
                f"(now {row['version']}); replay with version latest, or roll back to it"
            )
        return reason

    # -- shared -----------------------------------------------------------------------------
    @staticmethod
    def _guarded(conn, statement, *args, **kwargs):
        """Run a statement that may take a slot; on any error, give back what it took."""
        try:
            return statement(*args, **kwargs)
        except BaseException:
            _release_quietly(conn)
            raise

    def _run_started(
        self,
        conn: psycopg.Connection,
        fn: dict[str, Any],
        *,
        durable: bool = True,
        audit: AuditLine | None = None,
        defer: bool = False,
        ran=None,
    ) -> dict[str, Any] | None:
        """Run an execution recorded RUNNING on `conn` (which holds its slot) and record its end.

        `durable` (the sync path: someone waits for the answer) ends it with the sync statement.
        `defer` (queued, not a workflow step): keep the end for this thread's next statement
        (see `run_queued`) and return None. `ran()`, if given, is called once the sandbox is done
        with the run, before its end is recorded."""
        execution_id = str(fn["execution_id"])
        step = fn["trigger_type"] == "WORKFLOW"
        try:
            event(
                log,
                "execution.started",
                triggerType=fn["trigger_type"],
                executionId=execution_id,
                functionId=str(fn["id"]),
            )
            artifact = self._artifact(conn, fn)
            self._track(execution_id)
            try:
                if artifact is None:  # replaced by a newer version between the two statements
                    result = RunResult(
                        status=RunStatus.FAILED,
                        error_message="the function was updated while this execution started; run it again",
                    )
                else:
                    result = self._run(conn, fn, artifact, execution_id)
            finally:
                self._untrack(execution_id)
                if ran is not None:
                    ran()
            join = self._member_join(conn, fn, result) if defer and step else None
            if defer and (not step or join is not None) and audit is None:
                self._ends.pending = _EndToRecord(fn=fn, result=result, join=join)
                return None
            row, result = self._finish_run(conn, fn, result, durable, step=step, audit=audit)
        except BaseException:
            _release_quietly(conn)
            raise
        return self._ended(fn, row, result)

    def _ended(
        self,
        fn: dict[str, Any],
        row: dict[str, Any] | None,
        result: RunResult,
        *,
        missing_raises: bool = True,
    ) -> dict[str, Any] | None:
        """Log and count a recorded end (`row`: the ended row, None when it was deleted meanwhile)."""
        ids = {"executionId": str(fn["execution_id"]), "functionId": str(fn["id"])}
        if row is None:  # the function (and with it this execution) was deleted meanwhile
            self._log_end(result, ids)
            if missing_raises:
                raise FunctionNotFound(f"function {fn['id']} was deleted while this execution ran")
            return None
        self._log_end(
            RunResult(
                status=RunStatus(row["status"]),
                error_message=row["error_message"],
                duration_ms=result.duration_ms,
            ),
            ids,
        )
        metrics.execution_ended(
            row["status"],
            fn["language"],
            fn["trigger_type"],
            result.duration_ms / 1000.0,
            fn.get("queue_wait_s"),
        )
        self._log_retry(row, ids)
        return row

    @staticmethod
    def _member_join(conn, fn: dict[str, Any], result: RunResult) -> handover.Join | None:
        """The join a workflow step's end counts down, when it is a group member's COMPLETED end
        (the step's run and path are in its trigger data, written by the hand-over)."""
        trigger = fn["trigger_data"]
        if (
            result.status is not RunStatus.COMPLETED
            or not isinstance(trigger, dict)
            or "runId" not in trigger
        ):
            return None
        return handover.member_join(conn, uuid.UUID(trigger["runId"]), trigger["stepPath"])

    def _finish_run(self, conn, fn: dict[str, Any], result: RunResult, durable: bool, **ends):
        """`_finish` for the run started by `fn` (its start row)."""
        return self._finish(conn, fn["execution_id"], result, durable, fn.get("execution_created_at"), **ends)

    def _finish(
        self,
        conn,
        execution_id,
        result: RunResult,
        durable: bool = True,
        created_at=None,
        *,
        step: bool = False,
        audit: AuditLine | None = None,
        slot: tuple[int, int] | None = None,
    ) -> tuple[dict[str, Any] | None, RunResult]:
        """Record the end; an output PostgreSQL refuses (e.g. too deep) ends the execution FAILED.
        `slot`: free that slot only (the connection holds another run's too)."""
        ends = {"step": step, "audit": audit, "slot": slot}
        try:
            row = _record_end(conn, execution_id, result, durable, created_at, **ends)
            return row, result
        except (psycopg.DataError, psycopg.errors.ProgramLimitExceeded) as exc:
            reason = str(exc).strip().splitlines()[0]
            failed = RunResult(
                status=RunStatus.FAILED,
                error_message=f"the function's output could not be stored: {reason}",
                logs=result.logs,
                duration_ms=result.duration_ms,
                memory_peak_bytes=result.memory_peak_bytes,
            )
            return _record_end(conn, execution_id, failed, durable, created_at, **ends), failed

    def _artifact(self, conn, fn: dict[str, Any]) -> bytes | None:
        """The compiled binary: from the row, else this process's cache, else the database."""
        if fn["wasm_binary"] is not None:
            artifact = bytes(fn["wasm_binary"])
            self.artifacts.put(fn["id"], fn["version"], artifact)
            return artifact
        artifact = self.artifacts.get(fn["id"], fn["version"])
        if artifact is None:  # evicted since the statement left the binary out
            artifact = store.binary(conn, fn["id"], fn["version"])
            if artifact is not None:
                self.artifacts.put(fn["id"], fn["version"], artifact)
        return artifact

    def _run(
        self, conn: psycopg.Connection, fn: dict[str, Any], artifact: bytes, execution_id: str
    ) -> RunResult:
        request = RunRequest(
            language=Language(fn["language"]),
            artifact=artifact,
            input_json=json_text.dumps(fn["input"]),
            limits=Limits.of_function(fn["resource_limits"]),
            execution_id=execution_id,
            context_json=context_json(fn, execution_id),
        )
        deadline = time.monotonic() + request.limits.max_execution_time_ms / 1000.0
        api = HostApi(conn, fn, execution_id, deadline, self.secret_box, quotas=self.quotas)
        try:
            result = self.runners.run(request, host=api.handle)
            return _redacted(
                dataclasses.replace(result, api_calls=api.calls, database_queries=api.queries), api.redactor()
            )
        except Exception as exc:  # noqa: BLE001 - recorded as the execution's failure
            event(log, "runner.error", level=logging.ERROR, executionId=execution_id, exc_info=True)
            return RunResult(
                status=RunStatus.FAILED, error_message=f"the sandbox failed to run this execution: {exc}"
            )
        finally:
            api.release()  # the API calls it reserved and did not make

    # -- cancel -----------------------------------------------------------------------------
    def _track(self, execution_id: str) -> None:
        with self._lock:
            self._running.add(execution_id)
            cancelled = self._recent_cancels.pop(execution_id, None) is not None
        if cancelled:  # the request came between recording RUNNING and now
            self.runners.cancel(execution_id)

    def _untrack(self, execution_id: str) -> None:
        with self._lock:
            self._running.discard(execution_id)
        self.runners.forget_cancel(execution_id)

    def _on_cancel(self, execution_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            mine = execution_id in self._running
            if not mine:
                self._recent_cancels = {k: t for k, t in self._recent_cancels.items() if now - t < 10}
                self._recent_cancels[execution_id] = now
        if mine:
            event(log, "execution.cancelling", executionId=execution_id)
            self.runners.cancel(execution_id)

    # -- logs -------------------------------------------------------------------------------
    @staticmethod
    def _log_retry(row: dict[str, Any], ids: dict[str, str]) -> None:
        """Log and count what followed a failed attempt: a next attempt, or the end of the chain."""
        if row["status"] not in (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT):
            return
        if row["retried"]:
            metrics.retry_scheduled(row["trigger_type"])
            event(
                log,
                "execution.retrying",
                attempt=row["attempt"],
                maxAttempts=row["max_attempts"],
                nextAttemptId=str(row["next_attempt_id"]),
                **ids,
            )
        elif row["retry_policy"] is not None:
            metrics.final_failure(row["trigger_type"])

    @staticmethod
    def _ids(row: dict[str, Any]) -> dict[str, str]:
        return {"executionId": str(row["id"]), "functionId": str(row["function_id"])}

    @staticmethod
    def _log_end(result: RunResult, ids: dict[str, str]) -> None:
        if result.status is RunStatus.COMPLETED:
            event(log, "execution.completed", durationMs=round(result.duration_ms, 3), **ids)
        else:
            event(
                log,
                "execution.failed" if result.status is not RunStatus.CANCELLED else "execution.cancelled",
                level=logging.WARNING,
                status=result.status.value,
                error=result.error_message,
                durationMs=round(result.duration_ms, 3),
                **ids,
            )


def context_json(fn: dict[str, Any], execution_id: str) -> str:
    """What the code sees as `context`: who it is, which version runs, what triggered it, and
    which attempt of how many this is."""
    trigger = {"type": fn["trigger_type"]}
    if isinstance(fn["trigger_data"], dict):
        trigger.update(fn["trigger_data"])
    context = {
        "executionId": execution_id,
        "functionId": str(fn["id"]),
        "version": fn["version"],
        "trigger": trigger,
        "attempt": fn.get("attempt") or 1,
        "maxAttempts": fn.get("max_attempts") or 1,
    }
    return json_text.dumps(context, default=str)


def _redacted(result: RunResult, redactor: Redactor) -> RunResult:
    """The result with the values of the secrets the run read replaced, before anything stores or
    logs it (the execution row, its events, the process's log lines)."""
    if not redactor:
        return result
    return dataclasses.replace(
        result,
        output_json=redactor.json_text(result.output_json),
        error_message=redactor.text(result.error_message),
        logs=redactor.text(result.logs),
    )


def _release_quietly(conn: psycopg.Connection) -> None:
    """After an error: free any slot the connection holds, so it goes back to its pool clean."""
    if not conn.closed:
        try:
            store.release_slots(conn)
        except psycopg.Error:
            pass  # a broken connection: PostgreSQL frees its locks when it closes


def _record_end(
    conn,
    execution_id,
    result: RunResult,
    durable: bool,
    created_at=None,
    *,
    step: bool = False,
    audit: AuditLine | None = None,
    slot: tuple[int, int] | None = None,
) -> dict[str, Any] | None:
    """Record how the run ended; a workflow step's hand-over (what follows it) in the same transaction."""
    if durable and not step:  # sync: never retried, so the cheaper statement
        return sync_end.finish_sync(
            conn,
            execution_id,
            status=result.status.value,
            output_json=result.output_json,
            error_message=result.error_message,
            logs=result.logs,
            metrics=_metrics(result),
            created_at=created_at,
            audit=audit,
        )
    if not step:
        return _finish_row(conn, execution_id, result, durable, created_at, slot)
    with conn.transaction():
        row = _finish_row(conn, execution_id, result, durable, created_at, slot)
        if row is not None:
            # A failed attempt that queued its next attempt hands over nothing: the step goes on.
            handover.step_ended(conn, row, retried=bool(row["retried"]))
    return row


def _finish_row(
    conn, execution_id, result: RunResult, durable: bool, created_at=None, slot: tuple[int, int] | None = None
) -> dict[str, Any] | None:
    return attempts.finish(
        conn, execution_id, durable=durable, created_at=created_at, slot=slot, **_end_fields(result)
    )


def _end_fields(result: RunResult) -> dict[str, Any]:
    """How a run ended, as `attempts.finish` and `attempts.end_params` take it."""
    return {
        "status": result.status.value,
        "output_json": result.output_json,
        "error_message": result.error_message,
        "logs": result.logs,
        "metrics": _metrics(result),
        "retry_requested": result.retry_requested,
        "retry_delay_ms": result.retry_delay_ms,
    }


def _metrics(result: RunResult) -> dict[str, Any]:
    return {
        "durationMs": round(result.duration_ms, 3),
        "memoryPeakBytes": result.memory_peak_bytes,
        "apiCallCount": result.api_calls,
        "databaseQueryCount": result.database_queries,
    }
