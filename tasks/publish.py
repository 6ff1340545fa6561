"""Getting a function row compiled, in the caller's transaction (the row and its job commit together)."""

from __future__ import annotations

import psycopg

from broker import pgmq
from compiler.version import compiler_version, source_digest
from contracts.compilation import CompilationJob
from contracts.queues import COMPILATION_JOBS, COMPILE_TASK
from store import artifacts, staged
from store import functions as store


def publish_compilation_job(conn: psycopg.Connection, row: dict, version: dict | None = None) -> int:
    """Send the CompilationJob of a function row (or of its staged `version`) on `conn`
    (commits with the caller)."""
    of = version or {"language": row["language"], "source": row["source"], "version": row["version"]}
    job = CompilationJob(
        function_id=row["id"],
        tenant_id=row["tenant_id"],
        language=of["language"],
        source=of["source"],
        version=of["version"],
    )
    return pgmq.send(conn, COMPILATION_JOBS, job.to_json(), task=COMPILE_TASK)


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
        conn, row["tenant_id"], row["id"], row["version"], success=True, wasm_binary=binary, error=None
    )
    return store.get(conn, row["tenant_id"], row["id"]), True


def compile_staged(conn: psycopg.Connection, row: dict) -> tuple[dict, bool]:
    """Get a function's staged version compiled: promoted at once when the tenant has its artifact,
    else a compile job for it. Returns (the row as it now is, reused)."""
    version = staged.pending(conn, row)
    binary = artifacts.find(
        conn,
        row["tenant_id"],
        version["language"],
        source_digest(version["source"]),
        compiler_version(version["language"]),
    )
    if binary is None:
        publish_compilation_job(conn, row, version)
        return row, False
    staged.apply_compilation(
        conn, row["tenant_id"], row["id"], version["version"], success=True, wasm_binary=binary, error=None
    )
    return store.get(conn, row["tenant_id"], row["id"]), True
