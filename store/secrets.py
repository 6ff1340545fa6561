"""SQL for per-tenant secrets: names, versions and ciphertexts (never a value in clear)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

_META = "name, version, created_at, updated_at"


def put(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str, ciphertext: bytes) -> dict[str, Any]:
    """Create or replace a secret; each write of a name is its next version."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "INSERT INTO secrets (tenant_id, name, ciphertext) VALUES (%s, %s, %s) "
            "ON CONFLICT (tenant_id, name) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, "
            f"version = secrets.version + 1, updated_at = now() RETURNING {_META}",
            (tenant_id, name, ciphertext),
        )
        .fetchone()
    )


def list_all(conn: psycopg.Connection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The tenant's secrets by name (metadata only)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {_META} FROM secrets WHERE tenant_id = %s ORDER BY name", (tenant_id,))
        .fetchall()
    )


def get_meta(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str) -> dict[str, Any] | None:
    """One secret's metadata, or None."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(f"SELECT {_META} FROM secrets WHERE tenant_id = %s AND name = %s", (tenant_id, name))
        .fetchone()
    )


def delete(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str) -> bool:
    """Delete a secret; False when there was none."""
    cur = conn.execute("DELETE FROM secrets WHERE tenant_id = %s AND name = %s", (tenant_id, name))
    return cur.rowcount == 1


def ciphertext(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str) -> bytes | None:
    """The stored token of one secret, or None."""
    row = conn.execute(
        "SELECT ciphertext FROM secrets WHERE tenant_id = %s AND name = %s", (tenant_id, name)
    ).fetchone()
    return None if row is None else bytes(row[0])


def missing(conn: psycopg.Connection, tenant_id: uuid.UUID, names: list[str]) -> list[str]:
    """The names among `names` the tenant has no secret for, in the order given."""
    if not names:
        return []
    found = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM secrets WHERE tenant_id = %s AND name = ANY(%s)", (tenant_id, names)
        )
    }
    return [name for name in names if name not in found]


def any_ciphertext(conn: psycopg.Connection) -> bytes | None:
    """Some stored token (any tenant), or None when there are no secrets at all."""
    row = conn.execute("SELECT ciphertext FROM secrets LIMIT 1").fetchone()
    return None if row is None else bytes(row[0])


def every_token(conn: psycopg.Connection) -> list[tuple[uuid.UUID, str, bytes]]:
    """(tenant, name, token) of every secret: what a rotation re-encrypts."""
    return [
        (r[0], r[1], bytes(r[2])) for r in conn.execute("SELECT tenant_id, name, ciphertext FROM secrets")
    ]


def replace_token(conn: psycopg.Connection, tenant_id: uuid.UUID, name: str, old: bytes, new: bytes) -> bool:
    """Swap a token for its re-encryption unless the secret was written meanwhile (same version)."""
    cur = conn.execute(
        "UPDATE secrets SET ciphertext = %s WHERE tenant_id = %s AND name = %s AND ciphertext = %s",
        (new, tenant_id, name, old),
    )
    return cur.rowcount == 1
