"""SQL for content-addressed compiled artifacts, scoped to a tenant."""

from __future__ import annotations

import uuid

import psycopg

from contracts.statuses import CompileStatus


def find(
    conn: psycopg.Connection, tenant_id: uuid.UUID, language: str, digest: bytes, compiler_version: str
) -> bytes | None:
    """The artifact of that source and compiler, or None; marks it used."""
    row = conn.execute(
        "UPDATE artifacts SET last_used_at = now() WHERE tenant_id = %s AND language = %s "
        "AND source_sha256 = %s AND compiler_version = %s RETURNING artifact",
        (tenant_id, language, digest, compiler_version),
    ).fetchone()
    return None if row is None else bytes(row[0])


def remember(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    version: int,
    compiler_version: str,
) -> None:
    """Store the READY binary of a function's version under its source's digest (first one wins)."""
    conn.execute(
        "INSERT INTO artifacts (tenant_id, language, source_sha256, compiler_version, artifact) "
        "SELECT tenant_id, language, sha256(convert_to(source, 'UTF8')), %s, wasm_binary FROM functions "
        f"WHERE id = %s AND tenant_id = %s AND version = %s AND status = '{CompileStatus.READY}' AND "
        "wasm_binary IS NOT NULL "
        "ON CONFLICT DO NOTHING",
        (compiler_version, function_id, tenant_id, version),
    )


def forget_unused(conn: psycopg.Connection, older_than_s: float) -> int:
    """Delete artifacts no function has used for that long; returns how many."""
    return conn.execute(
        "DELETE FROM artifacts WHERE last_used_at < now() - make_interval(secs => %s)", (older_than_s,)
    ).rowcount
