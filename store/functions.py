"""SQL for functions and their versions; every query is scoped to a tenant."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from contracts.statuses import CompileStatus

COLUMNS = (
    "id, tenant_id, name, description, language, source, status, compile_error, version, state, "
    "trigger_type, cron_expression, http_path, http_methods, event_types, resource_limits, metadata, "
    "tags, created_by, created_at, updated_at, timezone, misfire_grace_s, last_run_at, missed_ticks, "
    "skipped_not_ready, http_auth, allowed_hosts, http_detailed_errors, secrets, retry_policy"
    ", pending_version, "
    + (
        # The staged version as the API shows it (store/staged.py), or NULL.
        "(SELECT jsonb_build_object('version', v.version, 'language', v.language, 'status', v.status, "
        "'compileError', v.compile_error, 'changeDescription', v.change_description, "
        "'createdAt', v.created_at) FROM function_versions v "
        "WHERE v.function_id = functions.id AND v.version = functions.pending_version) AS pending_json"
    )
)
# Fields a create/update may set, mapped to their columns (JSON ones wrapped on the way in).
WRITABLE = (
    "name",
    "description",
    "language",
    "source",
    "state",
    "trigger_type",
    "cron_expression",
    "http_path",
    "http_methods",
    "event_types",
    "resource_limits",
    "metadata",
    "tags",
    "timezone",
    "misfire_grace_s",
    "http_auth",
    "allowed_hosts",
    "http_detailed_errors",
    "secrets",
    "retry_policy",
)
_JSON = {"resource_limits", "metadata", "retry_policy"}


def _value(column: str, value: Any) -> Any:
    return Jsonb(value) if column in _JSON and value is not None else value


def insert(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    fields: dict[str, Any],
    *,
    actor: str,
    change_description: str | None,
) -> dict[str, Any]:
    """Insert a function (PENDING, at version 1) and its first function_versions row."""
    columns = [c for c in WRITABLE if c in fields]
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(
        f"INSERT INTO functions (tenant_id, created_by, {', '.join(columns)}) "
        f"VALUES (%s, %s, {', '.join(['%s'] * len(columns))}) RETURNING {COLUMNS}",
        (tenant_id, actor, *[_value(c, fields[c]) for c in columns]),
    ).fetchone()
    _insert_version(conn, row, actor, change_description or "created")
    return row


def _insert_version(conn: psycopg.Connection, row: dict[str, Any], actor: str, description: str | None):
    conn.execute(
        "INSERT INTO function_versions (function_id, tenant_id, version, language, source, "
        "change_description, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (row["id"], row["tenant_id"], row["version"], row["language"], row["source"], description, actor),
    )


def get(
    conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, *, for_update: bool = False
) -> dict[str, Any] | None:
    """One function of the tenant, or None."""
    lock = " FOR UPDATE" if for_update else ""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM functions WHERE id = %s AND tenant_id = %s{lock}",
            (function_id, tenant_id),
        )
        .fetchone()
    )


def list_page(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    name: str | None = None,
    state: str | None = None,
    trigger_type: str | None = None,
    language: str | None = None,
    tags: list[str] | None = None,
) -> list[dict]:
    """The tenant's functions, newest first; `name` matches a part of the name, case-insensitively,
    `tags` must all be present, the others match exactly."""
    where, params = ["tenant_id = %s"], [tenant_id]
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("name ILIKE %s")
        params.append(f"%{escaped}%")
    for column, value in (("state", state), ("trigger_type", trigger_type), ("language", language)):
        if value:
            where.append(f"{column} = %s")
            params.append(value)
    if tags:
        where.append("tags @> %s")
        params.append(list(tags))
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {COLUMNS} FROM functions WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        .fetchall()
    )


def id_by_name(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str) -> uuid.UUID | None:
    """The id of the tenant's function with that name, or None."""
    row = conn.execute(
        "SELECT id FROM functions WHERE tenant_id = %s AND name = %s", (tenant_id, name)
    ).fetchone()
    return None if row is None else row[0]


def update(
    conn: psycopg.Connection,
    current: dict[str, Any],
    changes: dict[str, Any],
    *,
    actor: str,
    change_description: str | None,
    new_version: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Apply changes; a new source or language makes a new version and resets status to PENDING.

    `new_version=True` makes one even for the same source (a rollback). Returns (row, recompile).
    Call inside a transaction with `current` locked FOR UPDATE.
    """
    changes = {c: v for c, v in changes.items() if c in WRITABLE}
    recompile = new_version or any(c in changes and changes[c] != current[c] for c in ("source", "language"))
    sets = [f"{c} = %s" for c in changes]
    params = [_value(c, v) for c, v in changes.items()]
    if recompile:
        sets += [
            # The next version after every version, a staged one included (which this replaces).
            "version = (SELECT max(version) + 1 FROM function_versions WHERE function_id = functions.id)",
            "pending_version = NULL",
            f"status = '{CompileStatus.PENDING}'",
            "compile_error = NULL",
            "wasm_binary = NULL",
        ]
    sets.append("updated_at = now()")
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"UPDATE functions SET {', '.join(sets)} WHERE id = %s AND tenant_id = %s RETURNING {COLUMNS}",
            (*params, current["id"], current["tenant_id"]),
        )
        .fetchone()
    )
    if recompile:
        _insert_version(conn, row, actor, change_description or "updated")
    return row, recompile


def delete(conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID) -> bool:
    """Delete a function; its versions and executions go with it."""
    cur = conn.execute("DELETE FROM functions WHERE id = %s AND tenant_id = %s", (function_id, tenant_id))
    return cur.rowcount == 1


def mark_compiling(
    conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, version: int
) -> int | None:
    """PENDING → COMPILING at that version only; returns the version still wanted (None: gone).

    That is the job's own version when it is the current one or the staged one (whose compile
    status lives on its version row), else the current one (the job was superseded).
    """
    conn.execute(
        f"UPDATE functions SET status = '{CompileStatus.COMPILING}', updated_at = now() "
        f"WHERE id = %s AND tenant_id = %s AND version = %s AND status = '{CompileStatus.PENDING}'",
        (function_id, tenant_id, version),
    )
    row = conn.execute(
        "SELECT CASE WHEN pending_version = %s THEN pending_version ELSE version END "
        "FROM functions WHERE id = %s AND tenant_id = %s",
        (version, function_id, tenant_id),
    ).fetchone()
    return None if row is None else row[0]


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
    """Apply a compilation result if it is for the current version (an older one is ignored).

    Idempotent: applying the same result twice writes the same values. False: stale, deleted, or
    not the result's tenant's function. `keep_error`: a failure that says only that compiling
    could not complete (a dead-lettered job) leaves a real compile error of the version in place.
    """
    record_version_outcome(
        conn, tenant_id, function_id, version, success=success, error=error, keep_error=keep_error
    )
    if success:
        cur = conn.execute(
            f"UPDATE functions SET status = '{CompileStatus.READY}', wasm_binary = %s, compile_error = NULL, "
            "updated_at = now() WHERE id = %s AND tenant_id = %s AND version = %s",
            (wasm_binary, function_id, tenant_id, version),
        )
    else:
        cur = conn.execute(
            # A version that compiled once stays READY: a later failure of the same source is a
            # duplicate job that hit a timeout or crash, not a verdict on the code.
            f"UPDATE functions SET status = '{CompileStatus.FAILED}', compile_error = %s, wasm_binary = "
            "NULL, "
            "updated_at = now() WHERE id = %s AND tenant_id = %s AND version = %s AND status <> "
            f"'{CompileStatus.READY}' "
            f"AND NOT (%s AND status = '{CompileStatus.FAILED}' AND compile_error IS NOT NULL)",
            (error, function_id, tenant_id, version, keep_error),
        )
    return cur.rowcount == 1


def record_version_outcome(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    function_id: uuid.UUID,
    version: int,
    *,
    success: bool,
    error: str | None,
    keep_error: bool,
) -> int:
    """The compile outcome on the version row (a READY version stays READY); returns rows changed."""
    return conn.execute(
        "UPDATE function_versions SET status = %s, compile_error = %s "
        "WHERE function_id = %s AND tenant_id = %s AND version = %s AND status IS DISTINCT FROM "
        f"'{CompileStatus.READY}' "
        f"AND NOT (%s AND status = '{CompileStatus.FAILED}' AND compile_error IS NOT NULL)",
        (
            CompileStatus.READY if success else CompileStatus.FAILED,
            None if success else error,
            function_id,
            tenant_id,
            version,
            keep_error,
        ),
    ).rowcount


_VERSION = (
    "version, language, change_description, created_by, created_at, status AS compile_status, compile_error"
)


def versions(conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every version of a function, newest first (without source)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_VERSION} FROM function_versions WHERE function_id = %s AND tenant_id = %s "
            "ORDER BY version DESC",
            (function_id, tenant_id),
        )
        .fetchall()
    )


def version(
    conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, version: int
) -> dict[str, Any] | None:
    """One version with its source, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_VERSION}, source FROM function_versions WHERE function_id = %s AND tenant_id = %s "
            "AND version = %s",
            (function_id, tenant_id, version),
        )
        .fetchone()
    )
