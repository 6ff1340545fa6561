"""SQL for the tenant key-value store: every statement is scoped to one tenant; expired = absent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from infra.storage_bounds import Quotas
from store import quotas

_LIVE = "(expires_at IS NULL OR expires_at > now())"


def get(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str) -> tuple[bool, Any]:
    """(found, value)."""
    row = conn.execute(
        f"SELECT value FROM kv_entries WHERE tenant_id = %s AND key = %s AND {_LIVE}", (tenant_id, key)
    ).fetchone()
    return (True, row[0]) if row else (False, None)


def put(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str, value: Any, ttl_s: float | None) -> None:
    conn.execute(
        "INSERT INTO kv_entries (tenant_id, key, value, expires_at) "
        "VALUES (%s, %s, %s, now() + make_interval(secs => %s)) "
        "ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value, "
        "expires_at = EXCLUDED.expires_at, updated_at = now()",
        (tenant_id, key, Jsonb(value), ttl_s),
    )


def delete(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str) -> bool:
    cur = conn.execute(
        f"DELETE FROM kv_entries WHERE tenant_id = %s AND key = %s RETURNING {_LIVE}", (tenant_id, key)
    )
    row = cur.fetchone()
    return bool(row and row[0])


def list_keys(conn: psycopg.Connection, tenant_id: uuid.UUID, prefix: str, limit: int) -> list[str]:
    """Keys starting with `prefix`, in order."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(
        f"SELECT key FROM kv_entries WHERE tenant_id = %s AND key LIKE %s AND {_LIVE} ORDER BY key LIMIT %s",
        (tenant_id, escaped + "%", limit),
    ).fetchall()
    return [r[0] for r in rows]


def increment(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str, by: int) -> int:
    """Add `by` to an integer value (absent or expired counts as 0) atomically; the new value.

    Raises ValueError when the current value is not an integer.
    """
    row = conn.execute(
        "INSERT INTO kv_entries AS e (tenant_id, key, value) VALUES (%(t)s, %(k)s, to_jsonb(%(by)s::bigint)) "
        "ON CONFLICT (tenant_id, key) DO UPDATE SET "
        "value = CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN to_jsonb(%(by)s::bigint) "
        "             WHEN jsonb_typeof(e.value) = 'number' AND (e.value::text ~ '^-?[0-9]+$') "
        "             THEN to_jsonb(e.value::text::bigint + %(by)s::bigint) END, "
        "expires_at = CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN NULL "
        "                  ELSE e.expires_at END, "
        "updated_at = now() "
        "RETURNING value",
        {"t": tenant_id, "k": key, "by": by},
    ).fetchone()
    return int(row[0])


def compare_and_set(
    conn: psycopg.Connection, tenant_id: uuid.UUID, key: str, expected: Any, value: Any, *, absent: bool
) -> bool:
    """Set `value` only if the current value equals `expected` (or the key is absent, with `absent`)."""
    if absent:
        cur = conn.execute(
            "INSERT INTO kv_entries AS e (tenant_id, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value, expires_at = NULL, "
            "updated_at = now() WHERE e.expires_at IS NOT NULL AND e.expires_at <= now()",
            (tenant_id, key, Jsonb(value)),
        )
    else:
        cur = conn.execute(
            f"UPDATE kv_entries SET value = %s, updated_at = now() "
            f"WHERE tenant_id = %s AND key = %s AND value = %s AND {_LIVE}",
            (Jsonb(value), tenant_id, key, Jsonb(expected)),
        )
    return cur.rowcount == 1


def delete_expired(conn: psycopg.Connection) -> int:
    return conn.execute("DELETE FROM kv_entries WHERE expires_at <= now()").rowcount


# Reserve `block` calls of the function's current minute (hostapi/call_budget.py): the minute's
# count with them, the minute, and the seconds left in it.
_RESERVE = """
INSERT INTO api_call_windows AS w (function_id, window_start, calls)
SELECT %(function)s, date_trunc('minute', now()), %(block)s{where}
ON CONFLICT (function_id, window_start) DO UPDATE SET calls = w.calls + EXCLUDED.calls
RETURNING calls, window_start,
    extract(epoch FROM window_start + interval '1 minute' - now())::float8 AS left_s"""

# The counter commits without waiting for its WAL flush: it is a rate limit, and a database crash
# that forgets the last few calls of a minute lets those few be made again, nothing more.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true) IS NOT NULL"
_RESERVE_CALLS = _RESERVE.format(where=f"\nWHERE {_ASYNC_COMMIT}")

Reservation = tuple[int, datetime, float]  # (the minute's count, the minute, seconds left in it)


def reserve_calls(conn: psycopg.Connection, function_id: uuid.UUID, block: int) -> Reservation:
    """Count `block` API calls in the function's current minute."""
    return conn.execute(_RESERVE_CALLS, {"function": function_id, "block": block}).fetchone()


def give_back_calls(conn: psycopg.Connection, function_id: uuid.UUID, window: datetime, calls: int) -> None:
    """Uncount reserved calls that were not made (of `window`, the minute they were counted in)."""
    conn.execute(
        "UPDATE api_call_windows SET calls = calls - %(calls)s "
        f"WHERE function_id = %(function)s AND window_start = %(window)s AND {_ASYNC_COMMIT}",
        {"function": function_id, "window": window, "calls": calls},
    )


def get_text(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str) -> str | None:
    """The value as JSON text as PostgreSQL prints it, or None when absent."""
    row = conn.execute(
        f"SELECT value::text FROM kv_entries WHERE tenant_id = %s AND key = %s AND {_LIVE}", (tenant_id, key)
    ).fetchone()
    return row[0] if row else None


_GET_RESERVING = f"""
WITH counted AS ({_RESERVE_CALLS})
SELECT counted.*, e.value::text
FROM counted LEFT JOIN kv_entries e ON e.tenant_id = %(tenant)s AND e.key = %(key)s AND {_LIVE}"""


def get_reserving_calls(
    conn: psycopg.Connection, function_id: uuid.UUID, block: int, tenant_id: uuid.UUID, key: str
) -> tuple[Reservation, str | None]:
    """`reserve_calls` and `get_text` in one round trip."""
    *reservation, text = conn.execute(
        _GET_RESERVING, {"function": function_id, "block": block, "tenant": tenant_id, "key": key}
    ).fetchone()
    return tuple(reservation), text


# kv.set of the host API in one statement (one round trip, one commit): reserve calls, read the
# tenant's room (store/quotas.py), and write only when the call is within the minute's budget and
# the entry fits. The write commits durably, so the count does too (no synchronous_commit off).
# A run that holds a reserved call already counts nothing (`counted` is then that one call).
_PUT = """
WITH counted AS ({counted}),
room AS ({room}),
written AS (
    INSERT INTO kv_entries (tenant_id, key, value, expires_at)
    SELECT %(tenant)s, %(key)s, %(value)s, now() + make_interval(secs => %(ttl)s)
    FROM counted LEFT JOIN room ON true
    WHERE counted.calls - %(block)s < %(per_minute)s AND (room.max_keys IS NULL OR {fits})
    ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value,
        expires_at = EXCLUDED.expires_at, updated_at = now()
    RETURNING 1)
SELECT counted.*, EXISTS (SELECT FROM written),
       room.keys, room.bytes, room.max_keys, room.max_bytes, room.old_size, room.new_size
FROM counted LEFT JOIN room ON true"""
_PUT_RESERVING = _PUT.format(counted=_RESERVE.format(where=""), room=quotas.KV_ROOM, fits=quotas.KV_FITS)
_PUT_HELD = _PUT.format(
    counted="SELECT %(block)s AS calls, NULL::timestamptz AS window_start, 0::float8 AS left_s",
    room=quotas.KV_ROOM,
    fits=quotas.KV_FITS,
)


def put_reserving_calls(
    conn: psycopg.Connection,
    function_id: uuid.UUID,
    block: int,
    tenant_id: uuid.UUID,
    bounds: Quotas,
    per_minute: int,
    key: str,
    value: Any,
    ttl_s: float | None,
) -> tuple[Reservation | None, bool, tuple | None]:
    """`reserve_calls` (none with `block` 0: the call is held already), `quotas.check_kv` and `put`
    in one round trip, writing only when the call is within `per_minute` and the entry fits:
    (the reservation or None, written, the KV_ROOM row or None without a tenant)."""
    params = quotas.kv_room_params(tenant_id, bounds, key, value)
    params.update(function=function_id, block=max(block, 1), per_minute=per_minute, ttl=ttl_s)
    statement = _PUT_RESERVING if block else _PUT_HELD
    calls, window, left_s, written, *room = conn.execute(statement, params).fetchone()
    reservation = (calls, window, left_s) if block else None
    return reservation, written, (tuple(room) if room[2] is not None else None)


def delete_old_windows(conn: psycopg.Connection) -> int:
    return conn.execute(
        "DELETE FROM api_call_windows WHERE window_start < now() - interval '2 minutes'"
    ).rowcount
