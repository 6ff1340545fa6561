"""Waiting for an execution that another session runs to end: on its locks, never by polling.

A RUNNING execution's session holds its concurrency slot (a session advisory lock keyed on the
function's `slot_key` and the row's `slot`) from the statement that records it RUNNING until the
statement that records its end, which also releases the slot; that end then commits. So waiting
for the slot, then for the row lock of the end's transaction, returns once the end is visible.
"""

from __future__ import annotations

import uuid

import psycopg

from contracts.statuses import ExecutionStatus

# Taken and given back in one transaction: the waiter holds a slot only for the instant between
# the runner's release and its own commit.
_WAIT_FOR_SLOT = f"""
SELECT pg_advisory_xact_lock(f.slot_key, x.slot)
FROM executions x JOIN functions f ON f.id = x.function_id
WHERE x.id = %s AND x.tenant_id = %s AND x.status = '{ExecutionStatus.RUNNING}' AND x.slot IS NOT NULL
"""
_WAIT_FOR_END_COMMIT = "SELECT 1 FROM executions WHERE id = %s AND tenant_id = %s FOR SHARE"


def wait_until_ended(
    conn: psycopg.Connection, tenant_id: uuid.UUID, execution_id: uuid.UUID, *, timeout_s: float
) -> bool:
    """Block until the execution is no longer RUNNING or `timeout_s` passes; False on the timeout.

    Returns at once for an execution that does not run (or whose session died: the sweep reports
    it lost). Use an autocommit connection outside any transaction of the caller.
    """
    try:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true)", (f"{max(1, int(timeout_s * 1000))}ms",)
            )
            conn.execute(_WAIT_FOR_SLOT, (execution_id, tenant_id))
            conn.execute(_WAIT_FOR_END_COMMIT, (execution_id, tenant_id))
    except psycopg.errors.LockNotAvailable:
        return False
    return True
