"""Replaying a finished execution: a new queued execution of the same function, `replayOf` set."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from contracts.statuses import UNFINISHED
from executions.enqueue import enqueue_execution
from executions.service import FunctionNotFound, check_runnable
from infra.storage_bounds import DEFAULT_QUOTAS, Quotas
from store import executions as store
from store import functions as functions_store

RUNNING_STATUSES = UNFINISHED


class ExecutionNotFound(LookupError):
    """No such execution for this tenant."""


class NotReplayable(RuntimeError):
    """The execution cannot be replayed now (still running, or its version cannot run); the
    message says why and what to do."""


def replay(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    execution_id: uuid.UUID,
    *,
    version: str = "same",
    input: Any = None,  # noqa: A002 - the API's own word
    quotas: Quotas = DEFAULT_QUOTAS,
) -> dict[str, Any]:
    """Queue a new execution of a finished one: same input unless given, same version (pinned:
    it runs only while that version is live) or the latest, the chain's retry policy.

    Raises ExecutionNotFound, NotReplayable, FunctionNotFound, NotRunnable or QuotaExceeded (a
    replay is a new chain: held to the tenant's pending quota).
    """
    original = store.get(conn, tenant_id, execution_id)
    if original is None:
        raise ExecutionNotFound(f"execution {execution_id} not found")
    if original["status"] in RUNNING_STATUSES:
        raise NotReplayable(
            f"execution {execution_id} is {original['status']}: "
            "replay it once it has ended, or cancel it first"
        )
    fn = check_runnable(
        functions_store.get(conn, tenant_id, original["function_id"]), original["function_id"]
    )
    pinned = original["version"] if version == "same" else None
    if pinned is not None and pinned != fn["version"]:
        raise NotReplayable(
            f"execution {execution_id} ran version {pinned}, which is no longer the function's live version "
            f"(now {fn['version']}) and has no artifact to run: replay with version latest, or roll back "
            f"to version {pinned} first (POST /functions/{{id}}/rollback)"
        )
    row, _ = enqueue_execution(
        conn,
        tenant_id=tenant_id,
        function_id=original["function_id"],
        input=original["input"] if input is None else input,
        trigger_type="MANUAL",
        trigger_data={"replayOf": str(execution_id)},
        retry_policy=original["retry_policy"],
        replay_of=execution_id,
        version=pinned,
        quotas=quotas,
    )
    if row is None:  # the function was deleted in between
        raise FunctionNotFound(f"function {original['function_id']} not found")
    return row
