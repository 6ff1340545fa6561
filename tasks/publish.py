"""Publishing compilation jobs in the caller's transaction (the row and its job commit together)."""

from __future__ import annotations

import psycopg

from tasks.app import broker
from tasks.contracts import COMPILATION_JOBS, COMPILE_TASK, CompilationJob


def publish_compilation_job(conn: psycopg.Connection, row: dict) -> int:
    """Send the CompilationJob of a function row on `conn` (commits with the caller)."""
    job = CompilationJob(
        function_id=row["id"],
        tenant_id=row["tenant_id"],
        language=row["language"],
        source=row["source"],
        revision=row["revision"],
    )
    return broker.send(COMPILATION_JOBS, job.to_json(), task=COMPILE_TASK, conn=conn)
