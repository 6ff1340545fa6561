"""compiler process: CompilationJob → COMPILING → compile → CompilationResult."""

from __future__ import annotations

import logging
import time

from broker import Reject, Retry
from compiler.compilers import Compilers
from compiler.errors import CompileError
from compiler.version import compiler_version
from contracts.compilation import (
    DEAD_LETTER_ERROR,
    NEWER_CONTRACT_RETRY_S,
    CompilationJob,
    CompilationResult,
    NewerContract,
)
from contracts.queues import APPLY_RESULT_TASK, COMPILATION_JOBS, COMPILATION_RESULTS, COMPILE_TASK
from infra import metrics
from infra.logs import event
from infra.settings import Settings
from runner.contract import LANGUAGES
from store import functions as store
from tasks.app import broker, task_connection

log = logging.getLogger(__name__)

compilers = Compilers()
# Tenants take turns: one tenant's hundred queued compiles do not hold up another's first one.
broker.read_fairly(COMPILATION_JOBS, key="tenantId")


@broker.on_worker_start(COMPILATION_JOBS)
def warm_up(settings: Settings | None) -> None:
    """Apply the process's settings and start the Node compile server before the first job
    (unless PNIL_COMPILER_WARM_START=0: then the first job of each language pays for it)."""
    if settings is not None:
        compilers.timeout_s = settings.compile_timeout_s
        compilers.slots = settings.compile_slots
        if not settings.compiler_warm_start:
            return
    compilers.start()
    compilers.warm_interpreters()


def publish_failure_when_dead(payload: dict, reason: str) -> None:
    """A job that will never compile (retries exhausted, rejected) still ends the COMPILING state."""
    try:
        job = CompilationJob.from_json(payload)
    except (KeyError, ValueError, TypeError, NewerContract):
        return  # nothing identifies a function to tell
    result = CompilationResult(
        function_id=job.function_id,
        tenant_id=job.tenant_id,
        success=False,
        wasm_binary=None,
        error=f"{DEAD_LETTER_ERROR} ({reason}); update the function to try again",
        version=job.version,
    )
    broker.send(COMPILATION_RESULTS, result.to_json(), task=APPLY_RESULT_TASK)
    event(
        log,
        "result.published",
        functionId=str(job.function_id),
        success=False,
        version=job.version,
        reason="job dead-lettered",
    )


def _parse(payload: dict) -> CompilationJob:
    try:
        return CompilationJob.from_json(payload)
    except NewerContract as exc:
        raise Retry(str(exc), delay=NEWER_CONTRACT_RETRY_S) from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise Reject(f"malformed CompilationJob: {exc!r}") from exc


@broker.task(
    queue=COMPILATION_JOBS,
    name=COMPILE_TASK,
    max_retries=5,
    # Short, because the heartbeat keeps a running compile hidden: a killed compiler's job
    # comes back within 30 s, while a compile may still run up to its own timeout.
    visibility_timeout=30,
    backoff=2,
    on_dead=publish_failure_when_dead,
)
def compile_function(payload: dict, delivery) -> None:
    """Compile one job and publish its result; the job is deleted only after the result is sent."""
    job = _parse(payload)
    fid = str(job.function_id)
    if job.language not in LANGUAGES:
        event(
            log,
            "job.failed",
            level=logging.ERROR,
            functionId=fid,
            errorType="unsupported_language",
            language=job.language,
        )
        raise Reject(f"this compiler does not handle language {job.language!r}")
    with task_connection(delivery) as conn:
        version = store.mark_compiling(conn, job.tenant_id, job.function_id, job.version)
    if version != job.version:
        reason = "function deleted" if version is None else f"superseded by version {version}"
        event(log, "job.skipped", functionId=fid, version=job.version, reason=reason)
        return
    event(
        log,
        "job.received",
        functionId=fid,
        language=job.language,
        version=job.version,
        attempt=delivery.read_ct,
    )
    started = time.perf_counter()
    try:
        binary = compilers.compile(job.language, job.source)
        result = CompilationResult(
            function_id=job.function_id,
            tenant_id=job.tenant_id,
            success=True,
            wasm_binary=binary,
            error=None,
            version=job.version,
            compiler_version=compiler_version(job.language),
        )
        metrics.compile_ended(job.language, True, time.perf_counter() - started)
        event(
            log,
            "job.compiled",
            functionId=fid,
            durationMs=round((time.perf_counter() - started) * 1000, 1),
            bytes=len(binary),
        )
    except CompileError as exc:
        result = CompilationResult(
            function_id=job.function_id,
            tenant_id=job.tenant_id,
            success=False,
            wasm_binary=None,
            error=str(exc) or type(exc).__name__,
            version=job.version,
        )
        metrics.compile_ended(job.language, False, time.perf_counter() - started)
        event(
            log,
            "job.failed",
            functionId=fid,
            errorType=type(exc).__name__,
            durationMs=round((time.perf_counter() - started) * 1000, 1),
        )
    with task_connection(delivery) as conn:
        broker.send(COMPILATION_RESULTS, result.to_json(), task=APPLY_RESULT_TASK, conn=conn)
    event(log, "result.published", functionId=fid, success=result.success, version=job.version)
