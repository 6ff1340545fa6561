"""Getting a function row compiled, in the caller's transaction (the row and its job commit together)."""

from __future__ import annotations

import psycopg

from compiler.version import compiler_version, source_digest
from store import artifacts
from store import functions as store
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


def compile_or_reuse(conn: psycopg.Connection, row: dict) -> tuple[dict, bool]:
    """READY at once from the tenant's artifact of the same source and compiler, else a compile job.

    Returns (the row as it now is, reused).
    """
    language = row["language"]
    binary = artifacts.find(
        conn, row["tenant_id"], language, source_digest(row["source"]), compiler_version(language)
    )
    if binary is None:
        publish_compilation_job(conn, row)
        return row, False
    store.apply_compilation(
        conn, row["tenant_id"], row["id"], row["revision"], success=True, wasm_binary=binary, error=None
    )
    return store.get(conn, row["tenant_id"], row["id"]), True
