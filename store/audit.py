"""SQL for the audit log: who (key, tenant) changed or ran what through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

# The row commits without waiting for its WAL flush: an audit line must not double the cost of
# the request it records (a database crash can lose the last few lines, never a request's effect).
_RECORD = """
INSERT INTO audit_log (tenant_id, key_id, method, path, status, action, target)
SELECT %s, %s, %s, %s, %s, %s, %s WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
"""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditLine:
    """One line of the audit log, for a statement that writes it along with its own change."""

    tenant_id: uuid.UUID
    key_id: uuid.UUID | None
    method: str
    path: str
    status: int
    action: str
    target: str | None


def audit_cte(source: str) -> str:
    """CTE `audited` inserting the line of `audit_params` once when CTE `source` has a row (and
    nothing when the line is None)."""
    return f"""audited AS (
    INSERT INTO audit_log (tenant_id, key_id, method, path, status, action, target)
    SELECT %(audit_tenant)s, %(audit_key)s, %(audit_method)s, %(audit_path)s, %(audit_status)s,
           %(audit_action)s, %(audit_target)s
    WHERE %(audit_action)s::text IS NOT NULL AND EXISTS (SELECT 1 FROM {source})
    RETURNING 1
)"""


def audit_params(line: AuditLine | None) -> dict[str, Any]:
    """The parameters of `audit_cte` for `line` (all null: no line)."""
    if line is None:
        return dict.fromkeys(
            (
                "audit_tenant",
                "audit_key",
                "audit_method",
                "audit_path",
                "audit_status",
                "audit_action",
                "audit_target",
            )
        )
    return {
        "audit_tenant": line.tenant_id,
        "audit_key": line.key_id,
        "audit_method": line.method,
        "audit_path": line.path,
        "audit_status": line.status,
        "audit_action": line.action,
        "audit_target": line.target,
    }


def record(
    conn: psycopg.Connection,
    *,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID | None,
    method: str,
    path: str,
    status: int,
    action: str,
    target: str | None,
) -> None:
    """Append one line."""
    conn.execute(_RECORD, (tenant_id, key_id, method, path, status, action, target))


def page(
    conn: psycopg.Connection, *, tenant: str | None, limit: int, before: int | None
) -> list[dict[str, Any]]:
    """Newest first; `tenant` (a slug) narrows it, `before` (an id) pages back."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT a.id, a.at, t.slug AS tenant, a.key_id, a.method, a.path, a.status, a.action, a.target "
            "FROM audit_log a LEFT JOIN tenants t ON t.id = a.tenant_id "
            "WHERE (%(tenant)s::text IS NULL OR t.slug = %(tenant)s) "
            "AND (%(before)s::bigint IS NULL OR a.id < %(before)s) ORDER BY a.id DESC LIMIT %(limit)s",
            {"tenant": tenant, "before": before, "limit": limit},
            prepare=False,  # optional filters: planned per call (see store/__init__.py)
        )
        .fetchall()
    )
