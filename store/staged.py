"""SQL for staged versions: a new version compiles beside the serving one and replaces it once READY.

`functions.revision` (with its source, language, status and binary) is always the version that
serves; `functions.pending_revision` names the staged `function_versions` row until it is promoted
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
    """Insert the next version (PENDING) and mark it the function's staged one; returns its number.

    Call inside a transaction with `current` locked FOR UPDATE.
    """
    number = conn.execute(
        "SELECT max(number) + 1 FROM function_versions WHERE function_id = %s", (current["id"],)
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO function_versions (function_id, tenant_id, number, language, source, "
        "change_description, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            current["id"],
            current["tenant_id"],
            number,
            language,
            source,
            change_description or "staged",
            actor,
        ),
    )
    conn.execute(
        "UPDATE functions SET pending_revision = %s, updated_at = now() WHERE id = %s AND tenant_id = %s",
        (number, current["id"], current["tenant_id"]),
    )
    return number


def drop(conn: psycopg.Connection, row: dict[str, Any]) -> None:
    """The function has no staged version any more (its version row stays in the history)."""
    conn.execute(
        "UPDATE functions SET pending_revision = NULL, updated_at = now() WHERE id = %s AND tenant_id = %s",
        (row["id"], row["tenant_id"]),
    )


def pending(conn: psycopg.Connection, row: dict[str, Any]) -> dict[str, Any] | None:
    """The staged version of a function row (number, language, source, status, error), or None."""
    if row.get("pending_revision") is None:
        return None
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT number, language, source, status, compile_error, change_description, created_at "
            "FROM function_versions WHERE function_id = %s AND number = %s",
            (row["id"], row["pending_revision"]),
        )
        .fetchone()
    )


def apply_compilation(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    number: int,
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
            "SELECT 1 FROM functions WHERE id = %s AND tenant_id = %s AND pending_revision = %s FOR UPDATE",
            (function_id, tenant_id, number),
        ).fetchone()
        if staged is None:
            return False
        functions.record_version_outcome(
            conn, tenant_id, function_id, number, success=success, error=error, keep_error=keep_error
        )
        if success:
            conn.execute(
                "UPDATE functions f SET revision = v.number, language = v.language, source = v.source, "
                f"status = '{CompileStatus.READY}', compile_error = NULL, wasm_binary = %s, pending_revision "
                "= NULL, "
                "updated_at = now() FROM function_versions v WHERE f.id = %s AND f.tenant_id = %s "
                "AND f.pending_revision = %s AND v.function_id = f.id AND v.number = f.pending_revision",
                (wasm_binary, function_id, tenant_id, number),
            )
    return True
