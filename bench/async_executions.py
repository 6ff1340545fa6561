"""bench "async": queued executions through the `executor` process.

`enqueue_to_completed_p50_ms`: POST /functions/{id}/executions (202) until GET /executions/{id}
shows COMPLETED, one at a time, on an idle stack (polled every 1 ms over one connection).
`drain_executions_per_s`: 5,000 PENDING executions of an AssemblyScript echo, queued in one
transaction, drained by one executor process with its Procfile defaults; time from commit to
the last COMPLETED row.
`procrastinate_noop_jobs_per_s` / `ratio_vs_procrastinate`: the same number of no-op jobs
deferred and drained by Procrastinate on a fresh database of the same PostgreSQL server, at the
same commit durability, with a warm worker (bench.procrastinate_drain); each side's settings are
printed in its line.

Run: python -m bench async
"""

from __future__ import annotations

import json
import time
import uuid

import psycopg

from bench import BenchError
from bench.execute_http import Http, ready_function
from bench.report import emit, p50, p95
from bench.runner_echo import ECHO_INPUT, ECHO_SOURCE
from bench.stack import executor_stack
from contracts.statuses import ExecutionStatus
from executions.enqueue import enqueue_execution

BENCH = "async"
DRAIN_N = 5000
LATENCY_N = 200
COMPILER_SETTLE_S = 10
# How the pnil side ran, printed beside the Procrastinate baseline's own settings.
PNIL_SETTINGS = {
    "synchronous_commit": "off (the queued path's transactions)",
    "database": "the stack's (a fresh embedded server unless DATABASE_URL is set)",
    "worker": "1 executor process, Procfile concurrency, started and warm before the clock",
}


def measure_enqueue_to_completed(http: Http, function_id: str, n: int = LATENCY_N) -> list[float]:
    """Wall ms from sending the 202 request until the execution reads COMPLETED."""
    samples = []
    for i in range(n + 20):
        started = time.perf_counter()
        status, data = http.call("POST", f"/functions/{function_id}/executions", {"input": {"i": i}})
        if status != 202:
            raise BenchError(f"submit answered {status}: {data[:300]!r}")
        execution_id = json.loads(data)["id"]
        while True:
            row = json.loads(http.call("GET", f"/executions/{execution_id}")[1])
            if row["status"] == ExecutionStatus.COMPLETED:
                break
            if row["status"] not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
                raise BenchError(f"execution ended {row['status']}: {row['errorMessage']}")
            time.sleep(0.001)
        if i >= 20:
            samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def measure_drain(database_url: str, function_id: str, n: int = DRAIN_N) -> float:
    """Queue n executions in one transaction; executions/s until the last one is COMPLETED."""
    payload = json.loads(ECHO_INPUT)
    fid = uuid.UUID(function_id)
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant = conn.execute("SELECT tenant_id FROM functions WHERE id = %s", (fid,)).fetchone()[0]
        with conn.transaction():
            for _ in range(n):
                enqueue_execution(conn, tenant_id=tenant, function_id=fid, input=payload, trigger_type="API")
        started = time.perf_counter()
        deadline = started + 600
        while True:
            left = conn.execute(
                "SELECT count(*) FROM executions WHERE function_id = %s AND status IN "
                f"('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}')",
                (fid,),
            ).fetchone()[0]
            if left == 0:
                break
            if time.perf_counter() > deadline:
                raise BenchError(f"{left} executions still queued after 600 s")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        bad = conn.execute(
            "SELECT count(*) FROM executions WHERE function_id = %s AND status <> "
            f"'{ExecutionStatus.COMPLETED}'",
            (fid,),
        ).fetchone()[0]
    if bad:
        raise BenchError(f"{bad} of the drained executions did not complete")
    return n / elapsed


def run() -> list[dict]:
    """Start web + compile pipeline + executor, measure, emit."""
    lines = []
    with executor_stack() as stack:
        http = Http(stack.base_url)
        try:
            latency_fn = ready_function(http, "bench-async-echo", "assemblyscript", ECHO_SOURCE.read_text())
            samples = measure_enqueue_to_completed(http, latency_fn)
            # The default limits (maxConcurrentRuns 5), as a user's function would have.
            drain_fn = ready_function(
                http,
                "bench-drain-echo",
                "assemblyscript",
                ECHO_SOURCE.read_text(),
                limits={"maxConcurrentRuns": 5},
            )
        finally:
            http.close()
        # The compiler warms V8 up in the background after it is ready; let it finish, so the
        # drain measures the executor and not a compiler sharing the two cores.
        time.sleep(COMPILER_SETTLE_S)
        per_s = measure_drain(stack.database_url, drain_fn)
        database_url = stack.database_url
        lines.append(emit(BENCH, "enqueue_to_completed_p50_ms", p50(samples), "ms", runs=len(samples)))
        lines.append(emit(BENCH, "enqueue_to_completed_p95_ms", p95(samples), "ms", runs=len(samples)))
        lines.append(
            emit(
                BENCH,
                "drain_executions_per_s",
                per_s,
                "executions/s",
                executions=DRAIN_N,
                settings=PNIL_SETTINGS,
                goal=">= 1000",
            )
        )
        try:
            from bench.procrastinate_drain import measure_procrastinate
        except ImportError as exc:
            raise BenchError(f"procrastinate is not installed ({exc}); run make install") from exc
        baseline = measure_procrastinate(database_url, DRAIN_N)
    lines.append(
        emit(
            BENCH,
            "procrastinate_noop_jobs_per_s",
            baseline.jobs_per_s,
            "jobs/s",
            jobs=DRAIN_N,
            settings=baseline.settings,
        )
    )
    lines.append(
        emit(
            BENCH,
            "ratio_vs_procrastinate",
            per_s / baseline.jobs_per_s,
            "x",
            goal=">= 2.0",
            pnil=PNIL_SETTINGS,
            procrastinate=baseline.settings,
        )
    )
    return lines
