"""consumer process: apply CompilationResults to functions; a stale or repeated result changes nothing."""

from __future__ import annotations

import logging

from broker import Reject, Retry
from contracts.compilation import DEAD_LETTER_ERROR, NEWER_CONTRACT_RETRY_S, CompilationResult, NewerContract
from contracts.queues import APPLY_RESULT_TASK, COMPILATION_RESULTS
from infra.logs import event
from store import artifacts, staged
from store import functions as store
from tasks.app import broker, task_connection

log = logging.getLogger(__name__)


@broker.task(
    queue=COMPILATION_RESULTS, name=APPLY_RESULT_TASK, max_retries=10, visibility_timeout=30, backoff=1
)
def apply_compilation_result(payload: dict, delivery) -> None:
    """Write READY+binary or FAILED+error for the result's version; the worker deletes after commit."""
    try:
        result = CompilationResult.from_json(payload)
    except NewerContract as exc:
        raise Retry(str(exc), delay=NEWER_CONTRACT_RETRY_S) from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise Reject(f"malformed CompilationResult: {exc!r}") from exc
    outcome = {
        "success": result.success,
        "wasm_binary": result.wasm_binary,
        "error": result.error,
        "keep_error": bool(result.error) and result.error.startswith(DEAD_LETTER_ERROR),
    }
    with task_connection(delivery) as conn:
        # The current version's result, else a staged version's (promoted once READY).
        applied = store.apply_compilation(
            conn, result.tenant_id, result.function_id, result.version, **outcome
        ) or staged.apply_compilation(conn, result.tenant_id, result.function_id, result.version, **outcome)
        if applied and result.success and result.compiler_version:
            artifacts.remember(
                conn, result.tenant_id, result.function_id, result.version, result.compiler_version
            )
    fid = str(result.function_id)
    if applied:
        event(
            log,
            "compilation.result.applied",
            functionId=fid,
            success=result.success,
            version=result.version,
        )
    else:
        event(
            log,
            "compilation.result.stale",
            functionId=fid,
            version=result.version,
            reason="function deleted, source replaced, version already READY, or not this tenant's; dropped",
        )
