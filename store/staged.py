"""SQL for staged versions: a new version compiles beside the serving one and replaces it once READY.

`functions.version` (with its source, language, status and binary) is always the version that
serves; `functions.pending_version` names the staged `function_versions` row until it is promoted
(its compile succeeded), replaced by another staged version, or dropped by a plain update.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.statuses import CompileStatus
from store import functions


def stage(
    conn: psycopg.Connection,
    current: dict[str, Any],
    language: str,
    source: str,
    *,
    actor: str,
    change_description: str | None,
) -> int:
    """Insert the next version (PENDING) and mark it the function's staged one; returns its version.

    Call inside a transaction with `current` locked FOR UPDATE.
    """
    version = conn.execute(
        "SELECT max(version) + 1 FROM function_versions WHERE function_id = %s", (current["id"],)
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO function_versions (function_id, tenant_id, version, language, source, "
        "change_description, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            current["id"],
            current["tenant_id"],
            version,
            language,
            source,
            change_description or "staged",
            actor,
        ),
    )
    conn.execute(
        "UPDATE functions SET pending_version = %s, updated_at = now() WHERE id = %s AND tenant_id = %s",
        (version, current["id"], current["tenant_id"]),
    )
    return version


def drop(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """The function has no staged version any more (its version row stays in the history)."""
    conn.execute(
        "UPDATE functions SET pending_version = NULL, updated_at = now() WHERE id = %s AND tenant_id = %s",
        (row["id"], row["tenant_id"]),
    )


def pending(conn: psycopg.Connection, row: dict[str, Any]) -> dict[str, Any] | None:
    """The staged version of a function row (version, language, source, status, error), or None."""
    if row.get("pending_version") is None:
        return None
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT version, language, source, status, compile_error, change_description, created_at "
            "FROM function_versions WHERE function_id = %s AND version = %s",
            (row["id"], row["pending_version"]),
        )
        .fetchone()
    )


def apply_compilation(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    version: int,
    *,
    success: bool,
    wasm_binary: bytes | None,
    error: str | None,
    keep_error: bool = False,
) -> bool:
    """Apply a result to the function's staged version: READY promotes it to the serving one,
    FAILED records the error on the version and leaves the serving one alone.

    False when that version is not (or no longer) staged. Idempotent like functions.apply_compilation.
    """
    with conn.transaction():
        staged = conn.execute(
            "SELECT 1 FROM functions WHERE id = %s AND tenant_id = %s AND pending_version = %s FOR UPDATE",
            (function_id, tenant_id, version),
        ).fetchone()
        if staged is None:
            return False
        functions.record_version_outcome(
            conn, tenant_id, function_id, version, success=success, error=error, keep_error=keep_error
        )
        if success:
            conn.execute(
                "UPDATE functions f SET version = v.version, language = v.language, source = v.source, "
                f"status = '{CompileStatus.READY}', compile_error = NULL, wasm_binary = %s, pending_version "
                "= NULL, "
                "updated_at = now() FROM function_versions v WHERE f.id = %s AND f.tenant_id = %s "
                "AND f.pending_version = %s AND v.function_id = f.id AND v.version = f.pending_version",
                (wasm_binary, function_id, tenant_id, version),
            )
    return True
