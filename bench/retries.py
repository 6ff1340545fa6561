"""bench "retries": what a retry costs, and how late delayed executions start.

`retried_attempt_ms` / `fresh_execution_ms` / `ratio_retried_vs_fresh`: N queued executions of one
AssemblyScript function drained by the executor (Procfile defaults), as fresh executions that
complete on their first attempt, and as chains whose first attempt fails and is retried at once
(maxAttempts 2, no backoff): wall time per attempt. A retried chain records the failed end, creates
the next attempt and sends its message in one statement, and the next attempt runs like any
queued one; goal: an attempt of a retried chain costs at most 1.2× a fresh execution. The best of
ROUNDS rounds each (noise on a shared machine only ever slows a round down).
`delayed_start_lateness_p95_ms`: DELAYED_N executions queued with the same `runAt` a few seconds
ahead; p95 of startedAt − scheduledFor; goal <= 1000 ms. Starting 1,000 at once is bound by how
fast the executor runs them: `delayed_start_lateness_min_ms` (the first start: the wake-up at the
due time) and `throughput_bound_p95_ms` (95% of DELAYED_N × fresh_execution_ms: the p95 lateness
even a zero-cost delay would have on this machine) tell the two apart.

Run: python -m bench retries
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from bench import BenchError
from bench.execute_http import Http, ready_function
from bench.report import emit, p95
from bench.stack import executor_stack
from contracts.statuses import ExecutionStatus
from executions.enqueue import enqueue_execution

BENCH = "retries"
N = 1000
ROUNDS = 2
DELAYED_N = 1000
DELAY_AHEAD_S = 4
COMPILER_SETTLE_S = 10
# Fails its first attempt when the input says so; both kinds of run ask for the context.
SOURCE = """
import { context } from "pnil";

export function handle(input: string): string {
  const first = context().includes('"attempt":1,');
  if (first && input.includes('"fail"')) throw new Error("first attempt fails");
  return input;
}
"""
RETRY_AT_ONCE = {"maxAttempts": 2, "initialDelayMs": 0, "jitter": False}


def _tenant(conn: psycopg.Connection, function_id: uuid.UUID) -> uuid.UUID:
    return conn.execute("SELECT tenant_id FROM functions WHERE id = %s", (function_id,)).fetchone()[0]


def _wait_settled(
    conn: psycopg.Connection, function_id: uuid.UUID, since: datetime, timeout_s: float = 600
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        left = conn.execute(
            "SELECT count(*) FROM executions WHERE function_id = %s AND created_at >= %s "
            f"AND status IN ('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}')",
            (function_id, since),
        ).fetchone()[0]
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{left} executions still queued after {timeout_s:.0f} s")
        time.sleep(0.02)


def measure_drain(database_url: str, function_id: str, *, retried: bool, n: int = N) -> float:
    """Wall ms per attempt to drain n queued executions (2n attempts when each is retried once)."""
    fid = uuid.UUID(function_id)
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant = _tenant(conn, fid)
        since = conn.execute("SELECT now()").fetchone()[0]
        with conn.transaction():
            for i in range(n):
                enqueue_execution(
                    conn,
                    tenant_id=tenant,
                    function_id=fid,
                    input={"fail": True, "i": i} if retried else {"i": i},
                    trigger_type="API",
                    retry_policy=RETRY_AT_ONCE,
                )
        started = time.perf_counter()
        _wait_settled(conn, fid, since)
        elapsed = time.perf_counter() - started
        completed, attempts = conn.execute(
            f"SELECT count(*) FILTER (WHERE status = '{ExecutionStatus.COMPLETED}'), count(*) FROM "
            "executions "
            "WHERE function_id = %s AND created_at >= %s",
            (fid, since),
        ).fetchone()
    expected = 2 * n if retried else n
    if completed != n or attempts != expected:
        raise BenchError(f"{completed} of {n} completed in {attempts} attempts (expected {expected})")
    return elapsed * 1000.0 / attempts


def measure_delayed_lateness(database_url: str, function_id: str, n: int = DELAYED_N) -> list[float]:
    """Queue n executions due at the same instant; ms each started after its scheduledFor."""
    fid = uuid.UUID(function_id)
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant = _tenant(conn, fid)
        since = conn.execute("SELECT now()").fetchone()[0]
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=DELAY_AHEAD_S)
        with conn.transaction():
            for i in range(n):
                enqueue_execution(
                    conn, tenant_id=tenant, function_id=fid, input={"i": i}, trigger_type="API", run_at=due
                )
        _wait_settled(conn, fid, since)
        rows = conn.execute(
            "SELECT EXTRACT(EPOCH FROM started_at - scheduled_for) * 1000.0, status FROM executions "
            "WHERE function_id = %s AND created_at >= %s",
            (fid, since),
        ).fetchall()
    if any(status != ExecutionStatus.COMPLETED for _, status in rows) or len(rows) != n:
        raise BenchError("not every delayed execution completed")
    early = [float(ms) for ms, _ in rows if ms < 0]
    if early:
        raise BenchError(f"{len(early)} delayed executions started before their scheduledFor")
    return [float(ms) for ms, _ in rows]


def run() -> list[dict]:
    """Start web + compile pipeline + executor, measure, emit."""
    with executor_stack() as stack:
        http = Http(stack.base_url)
        try:
            fid = ready_function(http, f"bench-retries-{uuid.uuid4().hex[:6]}", "assemblyscript", SOURCE)
        finally:
            http.close()
        time.sleep(COMPILER_SETTLE_S)  # the compiler warms up in the background; let it finish
        fresh, retried = [], []
        for _ in range(ROUNDS):
            fresh.append(measure_drain(stack.database_url, fid, retried=False))
            retried.append(measure_drain(stack.database_url, fid, retried=True))
        lateness = measure_delayed_lateness(stack.database_url, fid)
    ratio = min(retried) / min(fresh)
    late = p95(lateness)
    bound = 0.95 * DELAYED_N * min(fresh)
    return [
        emit(BENCH, "fresh_execution_ms", min(fresh), "ms", executions=N, rounds=ROUNDS),
        emit(BENCH, "retried_attempt_ms", min(retried), "ms", chains=N, rounds=ROUNDS),
        emit(BENCH, "ratio_retried_vs_fresh", ratio, "x", goal="<= 1.2", met=ratio <= 1.2),
        emit(
            BENCH,
            "delayed_start_lateness_p95_ms",
            late,
            "ms",
            executions=DELAYED_N,
            goal="<= 1000",
            met=late <= 1000,
        ),
        emit(BENCH, "delayed_start_lateness_min_ms", min(lateness), "ms", executions=DELAYED_N),
        emit(BENCH, "throughput_bound_p95_ms", bound, "ms", executions=DELAYED_N),
    ]
