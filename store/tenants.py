"""Tenants and API keys: keys are random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

import psycopg

DEFAULT_TENANT_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")
DEFAULT_TENANT_SLUG = "default"
KEY_PREFIX = "pnil_"
_KEY_SHAPE = re.compile(r"^pnil_[A-Za-z0-9_-]{43}$")
# A tenant's name (its slug): also the pattern the OpenAPI document states.
TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SLUG_SHAPE = TENANT_NAME
# admin: everything, every tenant's /admin routes; manage: functions, workflows, secrets, KV of its
# tenant; invoke: execute, queue, read and cancel executions (optionally of listed functions only);
# read: GETs only.
SCOPES = ("admin", "manage", "invoke", "read")


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    """Who is calling: the tenant a request acts for, and the key that proved it."""

    tenant_id: uuid.UUID
    tenant_slug: str
    key_id: uuid.UUID | None
    key_name: str | None
    is_admin: bool
    scopes: frozenset[str] = frozenset({"manage"})
    # An invoke key limited to these functions (None: any function of its tenant).
    function_ids: frozenset[uuid.UUID] | None = None

    @property
    def actor(self) -> str:
        """What `createdBy` records."""
        return f"key:{self.key_id}" if self.key_id else "anonymous"


# Anonymous local access: tenant `default`, never an admin (the local operator gets an admin key).
ANONYMOUS = Principal(
    tenant_id=DEFAULT_TENANT_ID,
    tenant_slug=DEFAULT_TENANT_SLUG,
    key_id=None,
    key_name=None,
    is_admin=False,
    scopes=frozenset({"manage"}),
)


class InvalidTenantRequest(ValueError):
    """A tenant name, scope or key limit pnil cannot use; the message says which and why."""


def hash_key(key: str) -> bytes:
    """The stored form of a key; keys carry 256 random bits, so a plain SHA-256 suffices."""
    return hashlib.sha256(key.encode()).digest()


def well_formed(key: str) -> bool:
    """True when the text has the shape of a pnil key."""
    return bool(_KEY_SHAPE.match(key))


def new_key() -> str:
    """A fresh key: 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def ensure_tenant(conn: psycopg.Connection, slug: str) -> uuid.UUID:
    """The id of the tenant with this slug, created when missing."""
    if not _SLUG_SHAPE.match(slug):
        raise InvalidTenantRequest(
            f"invalid tenant name {slug!r}: use 1-63 lowercase letters, digits, '-' or '_'"
        )
    row = conn.execute(
        "INSERT INTO tenants (slug) VALUES (%s) ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug "
        "RETURNING id",
        (slug,),
    ).fetchone()
    return row[0]


def create_key(
    conn: psycopg.Connection,
    slug: str,
    *,
    name: str,
    admin: bool = False,
    scopes: list[str] | None = None,
    function_ids: list[uuid.UUID] | None = None,
    expires_at=None,
) -> tuple[uuid.UUID, str]:
    """Create a key for the tenant (creating the tenant if needed); returns (key id, key).

    Scopes default to admin (admin=True) or manage; function_ids limit an invoke key.
    """
    scopes = sorted(set(scopes or ()) | ({"admin"} if admin else set())) or ["manage"]
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise InvalidTenantRequest(f"unknown scope(s) {', '.join(sorted(unknown))}: use {', '.join(SCOPES)}")
    if function_ids is not None and "invoke" not in scopes:
        raise InvalidTenantRequest("only an invoke key can be limited to functions")
    tenant_id = ensure_tenant(conn, slug)
    if function_ids:
        found = {
            row[0]
            for row in conn.execute(
                "SELECT id FROM functions WHERE tenant_id = %s AND id = ANY(%s)", (tenant_id, function_ids)
            )
        }
        missing = [str(f) for f in function_ids if f not in found]
        if missing:
            raise InvalidTenantRequest(f"tenant {slug!r} has no function(s) {', '.join(missing)}")
    key = new_key()
    key_id = conn.execute(
        "INSERT INTO api_keys (tenant_id, name, key_hash, is_admin, scopes, function_ids, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (tenant_id, name, hash_key(key), "admin" in scopes, scopes, function_ids, expires_at),
    ).fetchone()[0]
    return key_id, key


KEY_COLUMNS = (
    "id", "tenant", "name", "admin", "created_at", "last_used_at", "revoked_at",
    "scopes", "function_ids", "expires_at",
)  # fmt: skip


def list_keys(conn: psycopg.Connection) -> list[tuple]:
    """Every key, as KEY_COLUMNS."""
    return conn.execute(
        "SELECT k.id, t.slug, k.name, k.is_admin, k.created_at, k.last_used_at, k.revoked_at, "
        "k.scopes, k.function_ids, k.expires_at "
        "FROM api_keys k JOIN tenants t ON t.id = k.tenant_id ORDER BY k.created_at"
    ).fetchall()


def revoke_key(conn: psycopg.Connection, key_id: uuid.UUID) -> bool:
    """Revoke a key; False when there is no such active key."""
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,)
    )
    return cur.rowcount == 1


_AUTHENTICATE = """
WITH k AS (
    SELECT k.id, k.tenant_id, t.slug, k.name, k.is_admin, k.key_hash, k.last_used_at, k.scopes,
           k.function_ids
    FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
    WHERE k.key_hash = %(hash)s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
), touched AS (
    -- last_used_at is kept to the minute: one write per key per minute, not per request
    UPDATE api_keys SET last_used_at = now()
    WHERE id IN (SELECT id FROM k WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT id, tenant_id, slug, name, key_hash, scopes, function_ids FROM k
"""


def authenticate(conn: psycopg.Connection, key: str) -> Principal | None:
    """The principal of an active (not revoked, not expired) key, or None."""
    if not well_formed(key):
        return None
    digest = hash_key(key)
    row = conn.execute(_AUTHENTICATE, {"hash": digest}).fetchone()
    if row is None or not hmac.compare_digest(bytes(row[4]), digest):
        return None
    scopes = frozenset(row[5])
    return Principal(
        tenant_id=row[1],
        tenant_slug=row[2],
        key_id=row[0],
        key_name=row[3],
        is_admin="admin" in scopes,
        scopes=scopes,
        function_ids=None if row[6] is None else frozenset(row[6]),
    )


def bounds(conn: psycopg.Connection, slug: str, columns: list[str]) -> dict | None:
    """The tenant's own retention and quota columns (None: the server's setting), or None."""
    listed = ", ".join(columns)  # column names: ours (storage_bounds.TENANT_FIELDS), never input
    row = conn.execute(f"SELECT slug, {listed} FROM tenants WHERE slug = %s", (slug,)).fetchone()
    return dict(zip(["slug", *columns], row, strict=True)) if row else None


def set_bounds(conn: psycopg.Connection, slug: str, values: dict) -> None:
    """Set the tenant's own retention and quota columns (creating the tenant if needed)."""
    ensure_tenant(conn, slug)
    if values:
        assignments = ", ".join(f"{column} = %s" for column in values)  # ours, never input
        conn.execute(f"UPDATE tenants SET {assignments} WHERE slug = %s", (*values.values(), slug))
