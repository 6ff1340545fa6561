"""`make bench-scale` (python -m bench.scale [--rows N] [--days D]): pnil with a big history.

Fills a database with `--rows` executions (10 million by default) spread over `--days` days
(30) for 1,000 functions of 10 tenants, generated in SQL, one day partition per statement, then
prints one JSON line per figure (goals from issue 29):

- list_p95_ms: GET /functions/{id}/executions?limit=20 of one function (≤ 20 ms);
- sync_p50_ratio: sync execute p50 on the filled database over an empty one on the same server,
  in alternating rounds (≤ 1.1);
- drop_day_ms: dropping the oldest day of history, keepers moved to the archive (≤ 1000 ms);
- drop_day_lock_ms: how long that held its ACCESS EXCLUSIVE lock on executions (≤ 100 ms), with
  the slowest read a concurrent client saw meanwhile; that day holds the last run of 50 rarely
  run functions, the case that needs the lock (a day without keepers is detached CONCURRENTLY);
- prune_cpu_ms: CPU of one housekeeping prune pass (dropping the next day, no keepers: detached
  concurrently), database backend and Python together.

Kept out of `make bench`: it needs minutes and gigabytes. Run what fits and quote the row count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.execute_http import Http, measure_http_ms, ready_function
from bench.report import emit, p50, p95
from bench.stack import Stack, env_database_url, throwaway_database
from contracts.statuses import ExecutionStatus
from executions.housekeeping import prune_with
from infra.logs import configure_logging
from infra.storage_bounds import Retention
from migrations import apply_migrations
from store import partitions

BENCH = "scale"
FUNCTIONS = 1000
TENANTS = 10
ECHO = "function handle(input) { return input; }"
SYNC_N = 600
RARE = 50
ROUNDS = 6

_TENANTS_SQL = (
    "INSERT INTO tenants (slug) SELECT 'scale-' || t FROM generate_series(1, %s) t ON CONFLICT DO NOTHING"
)
_FUNCTIONS_SQL = """
INSERT INTO functions (tenant_id, name, language, source)
SELECT t.id, 'scale-' || n, 'javascript', 'function handle(i) { return i; }'
FROM generate_series(0, %(functions)s - 1) n
JOIN (SELECT id, row_number() OVER (ORDER BY slug) - 1 AS k FROM tenants
      WHERE slug = 'default' OR slug LIKE 'scale-%%') t ON t.k = n %% %(tenants)s
"""


# One day of executions: about 0.5 KB each (input, output, logs, metrics), spread over the
# functions, in time order within the day; one in fifty FAILED.
_DAY_SQL = f"""
WITH f AS (SELECT array_agg(id ORDER BY name) AS ids, array_agg(tenant_id ORDER BY name) AS tenants
           FROM functions WHERE name LIKE 'scale-%%')
INSERT INTO executions (function_id, tenant_id, version, status, trigger_type, input, output,
                        error_message, logs, metrics, created_at, started_at, completed_at)
SELECT f.ids[1 + g %% %(functions)s], f.tenants[1 + g %% %(functions)s], 1,
       CASE WHEN g %% 50 = 0 THEN '{ExecutionStatus.FAILED}' ELSE '{ExecutionStatus.COMPLETED}' END, 'API',
       jsonb_build_object('n', g, 'text', repeat('i', 120)),
       CASE WHEN g %% 50 <> 0 THEN jsonb_build_object('ok', true, 'text', repeat('o', 120)) END,
       CASE WHEN g %% 50 = 0 THEN 'Error: failed on purpose' END,
       'handled request ' || g || repeat('.', 100), '{{"durationMs": 3, "memoryPeakBytes": 1048576}}',
       ts, ts, ts + interval '3 ms'
FROM f, generate_series(1, %(rows)s) g,
     LATERAL (SELECT %(start)s::timestamptz + ((g - 1)::float8 / %(rows)s) * interval '1 day' AS ts) t
"""


def _fill(conn: psycopg.Connection, rows: int, days: int) -> float:
    """Generate the history; returns the seconds it took."""
    started = time.monotonic()
    conn.execute(_TENANTS_SQL, (TENANTS - 1,))  # and `default`
    conn.execute(_FUNCTIONS_SQL, {"tenants": TENANTS, "functions": FUNCTIONS})
    today = partitions.today_utc(conn)
    for table in partitions.PARTITIONED:
        partitions.start_days_at(conn, table, today - timedelta(days=days))
    per_day = rows // days
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        conn.execute(
            _DAY_SQL, {"functions": FUNCTIONS, "rows": per_day, "start": f"{day.isoformat()} 00:00:00+00"}
        )
        print(f"bench.scale: day -{back} filled ({per_day} rows)", file=sys.stderr, flush=True)
    # Functions that ran only on the first day: their last run is kept when that day goes.
    conn.execute(
        "INSERT INTO functions (tenant_id, name, language, source) "
        "SELECT id, 'rare-' || n, 'javascript', 'x' FROM tenants, generate_series(1, %s) n "
        "WHERE slug = 'default'",
        (RARE,),
    )
    conn.execute(
        "INSERT INTO executions (function_id, tenant_id, status, trigger_type, input, created_at) "
        f"SELECT id, tenant_id, '{ExecutionStatus.COMPLETED}', 'API', '{{}}', %s::timestamptz + interval "
        "'12 hours' "
        "FROM functions WHERE name LIKE 'rare-%%'",
        (f"{(today - timedelta(days=days)).isoformat()} 00:00:00+00",),
    )
    conn.execute("VACUUM ANALYZE executions")
    return time.monotonic() - started


def _backend_cpu_ms(conn: psycopg.Connection) -> float | None:
    """CPU (user + system) of this connection's server process so far; None off this machine."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115, PTH123
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def _list_ms(http: Http, function_id: str, n: int = 300) -> list[float]:
    samples = []
    for i in range(n + 30):
        started = time.perf_counter()
        status, body = http.call("GET", f"/functions/{function_id}/executions?limit=20")
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200 or len(json.loads(body)) != 20:
            raise RuntimeError(f"list answered {status}: {body[:300]!r}")
        if i >= 30:
            samples.append(elapsed)
    return samples


def _drop_oldest_day(url: str, probe_function: str) -> dict[str, float]:
    """Drop the oldest day while a client reads the newest executions of a function in a loop."""
    stop, slowest = threading.Event(), [0.0]

    def probe() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                started = time.perf_counter()
                conn.execute(
                    "SELECT id FROM executions WHERE function_id = %s ORDER BY created_at DESC LIMIT 20",
                    (probe_function,),
                ).fetchall()
                slowest[0] = max(slowest[0], (time.perf_counter() - started) * 1000)
                time.sleep(0.002)

    reader = threading.Thread(target=probe, daemon=True)
    reader.start()
    time.sleep(0.5)
    with psycopg.connect(url, autocommit=True) as conn:
        name, day = partitions.days(conn, "executions")[0]
        started = time.perf_counter()
        dropped, kept, locked_ms = partitions.drop_execution_day(conn, name, day)
        took = (time.perf_counter() - started) * 1000
    time.sleep(0.2)
    stop.set()
    reader.join()
    return {"ms": took, "lock_ms": locked_ms, "dropped": dropped, "kept": kept, "reader_max_ms": slowest[0]}


def _prune_cpu(url: str, days: int) -> dict:
    """One prune pass whose window drops the (new) oldest day; CPU of backend and client."""
    with psycopg.connect(url, autocommit=True) as conn:
        backend, client, wall = _backend_cpu_ms(conn), time.process_time(), time.perf_counter()
        removed = prune_with(conn, Retention(execution_days=days - 2, event_days=7))
        backend_after = _backend_cpu_ms(conn)
        return {
            "backend_ms": None if backend is None else backend_after - backend,
            "client_ms": (time.process_time() - client) * 1000,
            "wall_ms": (time.perf_counter() - wall) * 1000,
            "removed": removed,
        }


def _sync_ratio(empty: Stack, filled: Stack, empty_fn: str, filled_fn: str) -> dict[str, float]:
    """Sync execute p50 on the filled database over the empty one, measured in alternating rounds
    (the machine's load changes; both sides see the same), the median of the rounds' ratios."""
    body = json.dumps({"input": {"hello": "world"}}).encode()
    ratios, empties, filleds = [], [], []
    for round_ in range(ROUNDS):
        sides = [(empty, empty_fn, empties), (filled, filled_fn, filleds)]
        for stack, fid, out in sides if round_ % 2 == 0 else sides[::-1]:  # neither side always first
            http = Http(stack.base_url)  # fresh: an idle keep-alive connection may have been closed
            try:
                out.append(p50(measure_http_ms(http, fid, body, warmup=20, n=SYNC_N // ROUNDS)))
            finally:
                http.close()
        ratios.append(filleds[-1] / empties[-1])
    return {
        "ratio": statistics.median(ratios),
        "empty_p50_ms": statistics.median(empties),
        "filled_p50_ms": statistics.median(filleds),
        "per_round": [round(r, 3) for r in ratios],
    }


def _registered_echo(stack: Stack) -> str:
    http = Http(stack.base_url)
    try:
        return ready_function(http, "scale-echo", "javascript", ECHO)
    finally:
        http.close()


@contextmanager
def _sibling(url: str, name: str) -> Iterator[str]:
    """Another migrated database on the same server (the empty baseline), dropped on exit."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    sibling = urlunsplit(urlsplit(url)._replace(path="/" + name))
    apply_migrations(sibling)
    try:
        yield sibling
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run(rows: int = 10_000_000, days: int = 30) -> list[dict]:
    """Fill a database and measure it, against an empty one on the same server; emit every figure."""
    env = {"WEB_CONCURRENCY": "1", "PNIL_WEB_THREADS": "8", "PNIL_RUNNER_POOL_SIZE": "1"}
    processes = ("web", "compiler", "consumer")
    with throwaway_database(env_database_url()) as url, _sibling(url, "pnil_scale_empty") as empty_url:
        with (
            Stack(processes, extra_env=env, database_url=url) as filled,
            Stack(processes, extra_env=env, database_url=empty_url) as empty,
        ):
            filled_fn, empty_fn = _registered_echo(filled), _registered_echo(empty)
            with psycopg.connect(url, autocommit=True) as conn:
                fill_s = _fill(conn, rows, days)
                probe = conn.execute("SELECT id FROM functions WHERE name = 'scale-0'").fetchone()[0]
                size = conn.execute(
                    "SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) "
                    "FROM pg_partition_tree('executions')"
                ).fetchone()[0]
            sync = _sync_ratio(empty, filled, empty_fn, filled_fn)
            http = Http(filled.base_url)
            try:
                listed = _list_ms(http, str(probe))
            finally:
                http.close()
            drop = _drop_oldest_day(url, probe)
            pruned = _prune_cpu(url, days)
    common = {"rows": rows, "days": days, "functions": FUNCTIONS, "tenants": TENANTS}
    cpu = (pruned["backend_ms"] or 0) + pruned["client_ms"]
    return [
        emit(BENCH, "fill_s", fill_s, "s", size=size, **common),
        emit(
            BENCH,
            "list_p95_ms",
            p95(listed),
            "ms",
            n=len(listed),
            goal="<= 20",
            met=p95(listed) <= 20,
            **common,
        ),
        emit(
            BENCH,
            "sync_p50_ratio",
            sync["ratio"],
            "ratio",
            empty_p50_ms=round(sync["empty_p50_ms"], 3),
            filled_p50_ms=round(sync["filled_p50_ms"], 3),
            n=SYNC_N,
            rounds=sync["per_round"],
            goal="<= 1.1",
            met=sync["ratio"] <= 1.1,
            **common,
        ),
        emit(
            BENCH,
            "drop_day_ms",
            drop["ms"],
            "ms",
            dropped=drop["dropped"],
            kept=drop["kept"],
            goal="<= 1000",
            met=drop["ms"] <= 1000,
        ),
        emit(
            BENCH,
            "drop_day_lock_ms",
            drop["lock_ms"],
            "ms",
            reader_max_ms=round(drop["reader_max_ms"], 3),
            goal="<= 100",
            met=drop["lock_ms"] <= 100,
        ),
        emit(
            BENCH,
            "prune_cpu_ms",
            cpu,
            "ms",
            backend_ms=pruned["backend_ms"],
            client_ms=round(pruned["client_ms"], 3),
            wall_ms=round(pruned["wall_ms"], 3),
            removed=pruned["removed"],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("ROWS") or 10_000_000))
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    configure_logging("bench", "WARNING")
    run(rows=args.rows, days=args.days)
    return 0


if __name__ == "__main__":
    sys.exit(main())
