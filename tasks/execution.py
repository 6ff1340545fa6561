"""Running one execution: check the function, record RUNNING, run in the sandbox, record the end."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import OrderedDict
from typing import Any

import psycopg

from infra.database import ForkSafePool
from infra.logs import event
from runner.contract import Language, RunRequest, RunResult, RunStatus
from runner.pool import RunnerPool
from store import executions as store
from store import limits

log = logging.getLogger(__name__)


class FunctionNotFound(LookupError):
    """No such function for this tenant."""


class NotRunnable(ValueError):
    """The function exists but cannot run now; the message says why and what to do."""


class ArtifactCache:
    """Compiled artifacts by function id, valid for one revision (a revision's binary never changes).

    Bounded by total bytes, not entries: artifacts range from a few KiB to megabytes.
    """

    def __init__(self, capacity_bytes: int = 64 * 1024 * 1024) -> None:
        self._items: OrderedDict[uuid.UUID, tuple[int, bytes]] = OrderedDict()
        self._capacity = capacity_bytes
        self._size = 0
        self._lock = threading.Lock()

    def revision(self, function_id: uuid.UUID) -> int | None:
        with self._lock:
            item = self._items.get(function_id)
            return item[0] if item else None

    def get(self, function_id: uuid.UUID, revision: int) -> bytes | None:
        with self._lock:
            item = self._items.get(function_id)
            if item is None or item[0] != revision:
                return None
            self._items.move_to_end(function_id)
            return item[1]

    def put(self, function_id: uuid.UUID, revision: int, artifact: bytes) -> None:
        with self._lock:
            old = self._items.pop(function_id, None)
            if old is not None:
                self._size -= len(old[1])
            self._items[function_id] = (revision, artifact)
            self._size += len(artifact)
            while self._size > self._capacity and len(self._items) > 1:
                _, (_, evicted) = self._items.popitem(last=False)
                self._size -= len(evicted)


def check_runnable(fn: dict[str, Any] | None, function_id: uuid.UUID) -> dict[str, Any]:
    """Raise unless the function is READY and ACTIVE (flow 4)."""
    if fn is None:
        raise FunctionNotFound(f"function {function_id} not found")
    if fn["status"] != "READY":
        hint = {
            "FAILED": "fix the source (see compileError) and update the function",
            "PENDING": "it is waiting to compile; poll GET /functions/{id} until status is READY",
            "COMPILING": "it is compiling; poll GET /functions/{id} until status is READY",
        }[fn["status"]]
        raise NotRunnable(f"function is not READY (status {fn['status']}): {hint}")
    if fn["state"] != "ACTIVE":
        raise NotRunnable(
            f"function is {fn['state']}, only ACTIVE functions run: "
            'PUT /functions/{id} {"state": "ACTIVE"}'
        )
    return fn


class Executor:
    """One per process: database pool, runner pool and artifact cache."""

    def __init__(self, db: ForkSafePool, runners: RunnerPool, *, sweep_every_s: float | None = 60.0) -> None:
        self.db = db
        self.runners = runners
        self.artifacts = ArtifactCache()
        self._closed = threading.Event()
        if sweep_every_s:
            threading.Thread(
                target=self._sweep, args=(sweep_every_s,), name="lost-sweep", daemon=True
            ).start()

    def close(self) -> None:
        """Stop the runner subprocesses."""
        self._closed.set()
        self.runners.close()

    def sweep_lost(self) -> int:
        """Fail executions left RUNNING by a process that died; safe from many processes at once."""
        with self.db.connection() as conn:
            lost = store.fail_lost(conn)
        for execution_id, function_id in lost:
            event(
                log,
                "execution.lost",
                level=logging.WARNING,
                executionId=str(execution_id),
                functionId=str(function_id),
            )
        return len(lost)

    def _sweep(self, every_s: float) -> None:
        while not self._closed.wait(every_s):
            try:
                self.sweep_lost()
            except psycopg.Error as exc:
                event(log, "execution.sweep_failed", level=logging.WARNING, error=str(exc).strip())

    def execute(
        self,
        tenant_id: uuid.UUID,
        function_id: uuid.UUID,
        input_value: Any,
        *,
        trigger_type: str = "API",
        trigger_data: Any = None,
    ) -> dict[str, Any]:
        """Run synchronously and return the finished execution row."""
        with self.db.connection() as conn:
            # One round trip checks the function and records the execution RUNNING (flow 3).
            fn = store.start_if_runnable(
                conn,
                tenant_id,
                function_id,
                self.artifacts.revision(function_id),
                input_value=input_value,
                trigger_type=trigger_type,
                trigger_data=trigger_data,
            )
            if fn is None or fn["execution_id"] is None:
                check_runnable(fn, function_id)
                raise NotRunnable("function cannot run now; fetch it to see its status and state")
            artifact = self._artifact(conn, fn)
        execution_id = fn["execution_id"]
        ids = {"executionId": str(execution_id), "functionId": str(function_id)}
        event(log, "execution.started", triggerType=trigger_type, **ids)
        if artifact is None:  # replaced by a newer revision between the two statements
            result = RunResult(
                status=RunStatus.FAILED,
                error_message="the function was updated while this execution started; run it again",
            )
        else:
            result = self._run(fn, artifact, input_value, execution_id)
        row, result = self._finish(execution_id, result)
        self._log_end(result, ids)
        if row is None:  # the function (and with it this execution) was deleted meanwhile
            raise FunctionNotFound(f"function {function_id} was deleted while this execution ran")
        return row

    def _finish(self, execution_id, result: RunResult) -> tuple[dict[str, Any] | None, RunResult]:
        """Record the end; an output PostgreSQL refuses (e.g. too deep) ends the execution FAILED."""
        try:
            with self.db.connection() as conn:
                return store.finish(conn, execution_id, result), result
        except (psycopg.DataError, psycopg.errors.ProgramLimitExceeded) as exc:
            reason = str(exc).strip().splitlines()[0]
            failed = RunResult(
                status=RunStatus.FAILED,
                error_message=f"the function's output could not be stored: {reason}",
                logs=result.logs,
                duration_ms=result.duration_ms,
                memory_peak_bytes=result.memory_peak_bytes,
            )
            with self.db.connection() as conn:
                return store.finish(conn, execution_id, failed), failed

    def _artifact(self, conn, fn: dict[str, Any]) -> bytes | None:
        """The compiled binary: from the row, else this process's cache, else the database."""
        if fn["wasm_binary"] is not None:
            artifact = bytes(fn["wasm_binary"])
            self.artifacts.put(fn["id"], fn["revision"], artifact)
            return artifact
        artifact = self.artifacts.get(fn["id"], fn["revision"])
        if artifact is None:  # evicted since the statement left the binary out
            artifact = store.binary(conn, fn["id"], fn["revision"])
            if artifact is not None:
                self.artifacts.put(fn["id"], fn["revision"], artifact)
        return artifact

    def _run(self, fn: dict[str, Any], artifact: bytes, input_value: Any, execution_id) -> RunResult:
        request = RunRequest(
            language=Language(fn["language"]),
            artifact=artifact,
            input_json=json.dumps(input_value, ensure_ascii=False, separators=(",", ":")),
            limits=limits.runner_limits(fn["resource_limits"]),
            execution_id=str(execution_id),
        )
        try:
            return self.runners.run(request)
        except Exception as exc:  # noqa: BLE001 - recorded as the execution's failure
            event(log, "runner.error", level=logging.ERROR, executionId=str(execution_id), exc_info=True)
            return RunResult(
                status=RunStatus.FAILED, error_message=f"the sandbox failed to run this execution: {exc}"
            )

    @staticmethod
    def _log_end(result: RunResult, ids: dict[str, str]) -> None:
        if result.status is RunStatus.COMPLETED:
            event(log, "execution.completed", durationMs=round(result.duration_ms, 3), **ids)
        else:
            event(
                log,
                "execution.failed",
                level=logging.WARNING,
                status=result.status.value,
                error=result.error_message,
                durationMs=round(result.duration_ms, 3),
                **ids,
            )
