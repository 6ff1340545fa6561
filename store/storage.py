"""What pnil holds: rows and bytes per table (partitions summed) and per tenant, oldest row kept.

Read at request time from the catalog: row counts are PostgreSQL's estimates (reltuples, as
fresh as the last ANALYZE), bytes are exact (heap, TOAST and indexes). A tenant's share of a
large table is estimated from a sample of about SAMPLE_ROWS rows (exact for small tables).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

# Tables with a tenant_id and what their "oldest row" is measured by.
TENANT_TABLES = {
    "executions": "created_at",
    "events": "created_at",
    "functions": "created_at",
    "function_versions": "created_at",
    "kv_entries": "updated_at",
    "idempotency_keys": "created_at",
    "artifacts": "created_at",
}
SAMPLE_ROWS = 20_000

_TABLE_SIZES = """
SELECT t.name,
       COALESCE(sum(GREATEST(c.reltuples, 0)), 0)::bigint AS rows,
       COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes,
       count(*) FILTER (WHERE c.relkind = 'r') AS partitions
FROM unnest(%(tables)s::text[]) AS t(name)
CROSS JOIN LATERAL unnest(COALESCE((SELECT array_agg(relid) FROM pg_partition_tree(t.name::regclass)),
                                   ARRAY[t.name::regclass])) AS p(relid)
JOIN pg_class c ON c.oid = p.relid AND c.relkind = 'r'
GROUP BY t.name ORDER BY t.name
"""


def tables(conn: psycopg.Connection, queue_tables: list[str]) -> list[dict[str, Any]]:
    """Per table (pnil's and the pgmq queues'): estimated rows, bytes, partitions, oldest row."""
    names = [*TENANT_TABLES, *queue_tables]
    rows = conn.execute(_TABLE_SIZES, {"tables": names}).fetchall()
    found = []
    for name, count, size, parts in rows:
        if count <= SAMPLE_ROWS:  # small (or never analyzed): count exactly
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(name))).fetchone()[0]
        found.append(
            {
                "table": name,
                "rows": count,
                "bytes": size,
                "partitions": parts,
                "oldestRowAt": _oldest(conn, name),
            }
        )
    return found


def _oldest(conn: psycopg.Connection, table: str) -> Any:
    column = TENANT_TABLES.get(table)
    if column is None:
        column = "enqueued_at"  # a pgmq queue table
    if table in ("executions", "events"):  # per tenant: an index probe per tenant and partition
        return conn.execute(
            sql.SQL(
                "SELECT min(m) FROM tenants t, "
                "LATERAL (SELECT min({c}) AS m FROM {t} WHERE tenant_id = t.id) x"
            ).format(c=sql.Identifier(column), t=sql.Identifier(table))
        ).fetchone()[0]
    return conn.execute(
        sql.SQL("SELECT min({}) FROM {}").format(sql.Identifier(column), sql.SQL(table))
    ).fetchone()[0]


def per_tenant(conn: psycopg.Connection, sizes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per tenant slug and table: estimated rows and bytes (its share of the table)."""
    out: dict[str, dict[str, Any]] = {}
    slugs = dict(conn.execute("SELECT id, slug FROM tenants").fetchall())
    for table in TENANT_TABLES:
        size = sizes.get(table)
        if size is None:
            continue
        shares = _shares(conn, table, size["rows"])
        for tenant_id, share in shares.items():
            entry = out.setdefault(slugs.get(tenant_id, str(tenant_id)), {})
            entry[table] = {"rows": round(share * size["rows"]), "bytes": round(share * size["bytes"])}
    return out


def _shares(conn: psycopg.Connection, table: str, estimated_rows: int) -> dict[Any, float]:
    """Each tenant's fraction of the table's rows, from a sample when the table is large."""
    ident = sql.Identifier(table)
    if estimated_rows > SAMPLE_ROWS:
        percent = max(0.01, 100.0 * SAMPLE_ROWS / estimated_rows)
        query = sql.SQL("SELECT tenant_id, count(*) FROM {} TABLESAMPLE SYSTEM ({}) GROUP BY 1").format(
            ident, sql.Literal(percent)
        )
    else:
        query = sql.SQL("SELECT tenant_id, count(*) FROM {} GROUP BY 1").format(ident)
    counts = dict(conn.execute(query).fetchall())
    total = sum(counts.values())
    return {tenant: n / total for tenant, n in counts.items()} if total else {}
