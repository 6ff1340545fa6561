"""bench "hosts": how many pnil hosts one PostgreSQL server carries, measured on this machine.

`commit_ceiling_per_s`: single-row write transactions per second that the server commits with
16 connections (fsync and synchronous_commit at their defaults): the ceiling PostgreSQL sets.
`host_drain_executions_per_s`: queued executions per second one host's executor finishes
(Procfile defaults; the same drain as bench "async", 1,000 executions).
`commits_per_queued_execution`: transactions the server committed per queued execution during
that drain (pg_stat_database.xact_commit, every process of the host included; read-only
statements count too, so this errs high).
`hosts_per_server`: ceiling / (commits per execution × one host's rate): how many hosts running
flat out one server carries before PostgreSQL, not the hosts, is the limit.

Run: python -m bench hosts
"""

from __future__ import annotations

import threading
import time

import psycopg

from bench.async_executions import measure_drain
from bench.execute_http import Http, ready_function
from bench.report import emit
from bench.runner_echo import ECHO_SOURCE
from bench.stack import executor_stack

BENCH = "hosts"
CEILING_CONNECTIONS = 16
CEILING_SECONDS = 5.0
DRAIN_N = 1000
SETTLE_S = 10


def commit_ceiling(database_url: str) -> float:
    """Autocommit single-row INSERTs from CEILING_CONNECTIONS threads; commits per second."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, at timestamptz)")
    counts = [0] * CEILING_CONNECTIONS
    start = threading.Barrier(CEILING_CONNECTIONS + 1)
    deadline: list[float] = []

    def writer(i: int) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            start.wait()
            while time.perf_counter() < deadline[0]:
                conn.execute("INSERT INTO bench_commits (at) VALUES (now())")
                counts[i] += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(CEILING_CONNECTIONS)]
    for t in threads:
        t.start()
    deadline.append(time.perf_counter() + CEILING_SECONDS)
    start.wait()
    for t in threads:
        t.join()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_commits")
    return sum(counts) / CEILING_SECONDS


def committed(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()[0]


def run() -> list[dict]:
    """One host (web, compile pipeline, executor) on a throwaway server; measure, derive, emit."""
    with executor_stack() as stack:
        http = Http(stack.base_url)
        try:
            fn = ready_function(
                http,
                "bench-hosts-echo",
                "assemblyscript",
                ECHO_SOURCE.read_text(),
                limits={"maxConcurrentRuns": 5},
            )
        finally:
            http.close()
        time.sleep(SETTLE_S)  # the compiler's background warm-up, off the two cores
        before = committed(stack.database_url)
        per_s = measure_drain(stack.database_url, fn, DRAIN_N)
        time.sleep(0.6)  # the statistics collector reports at most every 500 ms
        per_execution = (committed(stack.database_url) - before) / DRAIN_N
        ceiling = commit_ceiling(stack.database_url)
    hosts = ceiling / (per_execution * per_s)
    return [
        emit(BENCH, "commit_ceiling_per_s", ceiling, "commits/s", connections=CEILING_CONNECTIONS),
        emit(BENCH, "host_drain_executions_per_s", per_s, "executions/s", executions=DRAIN_N),
        emit(BENCH, "commits_per_queued_execution", per_execution, "commits"),
        emit(BENCH, "hosts_per_server", hosts, "hosts"),
    ]
