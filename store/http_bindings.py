"""SQL for HTTP trigger bindings."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from contracts.statuses import LifecycleState

_COLUMNS = (
    "f.id, f.tenant_id, f.name, f.http_path, f.http_methods, f.http_auth, f.state, f.status, "
    "f.http_detailed_errors"
)


def for_tenant_slug(conn: psycopg.Connection, slug: str) -> list[dict[str, Any]]:
    """The HTTP bindings (functions not ARCHIVED) of the tenant named `slug`."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_COLUMNS} FROM functions f JOIN tenants t ON t.id = f.tenant_id "
            f"WHERE t.slug = %s AND f.trigger_type = 'HTTP' AND f.state <> '{LifecycleState.ARCHIVED}'",
            (slug,),
        )
        .fetchall()
    )


def others_locked(
    conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID | None
) -> list[dict]:
    """The tenant's other HTTP bindings, under a per-tenant transaction lock (no racing registration)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('pnil-http-bindings:' || %s::text))", (tenant_id,))
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_COLUMNS} FROM functions f WHERE f.tenant_id = %s AND f.trigger_type = 'HTTP' "
            f"AND f.state <> '{LifecycleState.ARCHIVED}' AND f.id IS DISTINCT FROM %s",
            (tenant_id, function_id),
        )
        .fetchall()
    )
