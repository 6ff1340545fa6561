"""`python -m bench.partition_width [--rows N]`: day or week partitions for executions?

Builds two copies of the same history (30 days, 1,000 functions) in one database, partitioned
by day (31 partitions) and by week (5), with pnil's indexes, and times the statements whose
cost grows with the number of partitions: the API's list of a function's executions, a read by
id (no partition key: one index probe per partition), and the end of an execution (by id and
created_at: one partition). Not part of `make bench`; the figures are quoted in the README.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import timedelta

import psycopg

from bench.report import emit, p50, p95
from bench.stack import env_database_url, throwaway_database
from contracts.statuses import ExecutionStatus
from infra.logs import configure_logging

BENCH = "partition_width"
DAYS = 30

_TABLE = """
CREATE TABLE {t} (id uuid NOT NULL DEFAULT gen_random_uuid(), function_id uuid NOT NULL,
                  status text NOT NULL, output jsonb, created_at timestamptz NOT NULL,
                  PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);
CREATE INDEX ON {t} (function_id, created_at DESC, id);
"""


def _build(conn: psycopg.Connection, table: str, width_days: int, rows: int, base) -> None:
    """The same rows (ids, times) whatever the width; partitions of `width_days` up to `base`."""
    conn.execute(_TABLE.format(t=table))
    for start in range(-DAYS - 1, 2, width_days):
        low, high = base + timedelta(days=start), base + timedelta(days=start + width_days)
        conn.execute(
            f"CREATE TABLE {table}_{start + 100} PARTITION OF {table} "
            f"FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )
    conn.execute(
        f"INSERT INTO {table} (id, function_id, status, output, created_at) "
        "SELECT md5(g::text)::uuid, ('00000000-0000-0000-0000-' || lpad((g %% 1000)::text, 12, '0'))::uuid, "
        f"'{ExecutionStatus.COMPLETED}', jsonb_build_object('g', g), "
        "%(base)s::timestamptz - make_interval(secs => (g::float8 / %(rows)s) * %(days)s * 86400) "
        "FROM generate_series(1, %(rows)s) g",
        {"rows": rows, "days": DAYS, "base": base},
    )
    conn.execute(f"VACUUM ANALYZE {table}")


def _time(conn: psycopg.Connection, query: str, params_of, n: int = 400) -> list[float]:
    samples = []
    for i in range(n + 40):
        params = params_of(i)
        started = time.perf_counter()
        conn.execute(query, params).fetchall()
        if i >= 40:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(rows: int = 1_000_000) -> list[dict]:
    lines = []
    with throwaway_database(env_database_url()) as url, psycopg.connect(url, autocommit=True) as conn:
        base = conn.execute("SELECT date_trunc('day', now())").fetchone()[0]
        for table, width in (("by_day", 1), ("by_week", 7)):
            _build(conn, table, width, rows, base)
        fn = uuid.UUID("00000000-0000-0000-0000-000000000007")
        ids = [r for r in conn.execute("SELECT id, created_at FROM by_day TABLESAMPLE SYSTEM (1) LIMIT 500")]
        for table, width in (("by_day", 1), ("by_week", 7)):
            parts = conn.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", (table,)
            ).fetchone()[0]
            listed = _time(
                conn,
                f"SELECT * FROM {table} WHERE function_id = %s ORDER BY created_at DESC, id DESC LIMIT 20",
                lambda i: (fn,),
            )
            by_id = _time(conn, f"SELECT * FROM {table} WHERE id = %s", lambda i: (ids[i % len(ids)][0],))
            ended = _time(
                conn,
                f"UPDATE {table} SET status = '{ExecutionStatus.COMPLETED}' WHERE id = %s AND created_at = "
                "%s RETURNING id",
                lambda i: ids[i % len(ids)],
            )
            common = {"partitions": parts, "width_days": width, "rows": rows}
            lines.append(emit(BENCH, f"{table}_list_p95_ms", p95(listed), "ms", **common))
            lines.append(emit(BENCH, f"{table}_get_by_id_p50_ms", p50(by_id), "ms", **common))
            lines.append(emit(BENCH, f"{table}_finish_p50_ms", p50(ended), "ms", **common))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.partition_width")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    configure_logging("bench", "WARNING")
    run(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
