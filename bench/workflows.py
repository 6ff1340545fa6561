"""bench "workflows": canvas runs through the executor, against plain queued executions.

`chain_step_overhead_p50_ms`: a 100-step chain of an AssemblyScript echo; for each step, the time
from the previous step's recorded end (the run's creation for the first) to its own recorded end,
minus its own run time in the sandbox: the hand-over, the queue, the start and the record of the
end. Goal ≤ 10 ms.
`chord_999_s` / `drain_1000_s` / `chord_vs_drain_ratio`: a 999-wide chord whose `then` is the same
echo (1,000 steps: the most a run may have), from submission to the run's end, against draining
1,000 plain queued executions of the same function queued in one transaction, alternated in the
same run. Goal ratio ≤ 1.3.

Run: python -m bench workflows
"""

from __future__ import annotations

import json
import statistics
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

BENCH = "workflows"
CHAIN_STEPS = 100
CHORD_WIDTH = 999
ROUNDS = 2
COMPILER_SETTLE_S = 10
STEP_OVERHEAD_GOAL_MS = 10.0
RATIO_GOAL = 1.3


def _run(base_url: str, steps: dict) -> str:
    http = Http(base_url)  # a connection of its own: a kept-alive one may have timed out meanwhile
    try:
        status, data = http.call("POST", "/workflows/runs", {"input": json.loads(ECHO_INPUT), "steps": steps})
    finally:
        http.close()
    if status != 202:
        raise BenchError(f"POST /workflows/runs answered {status}: {data[:300]!r}")
    return json.loads(data)["id"]


def _wait_run(conn: psycopg.Connection, run_id: str, timeout_s: float = 600) -> tuple:
    deadline = time.perf_counter() + timeout_s
    while True:
        row = conn.execute(
            "SELECT status, error, created_at, completed_at FROM workflow_runs WHERE id = %s", (run_id,)
        ).fetchone()
        if row[0] not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
            if row[0] != ExecutionStatus.COMPLETED:
                raise BenchError(f"run {run_id} ended {row[0]}: {row[1]}")
            return row
        if time.perf_counter() > deadline:
            raise BenchError(f"run {run_id} still {row[0]} after {timeout_s} s")
        time.sleep(0.01)


def measure_chain(base_url: str, conn: psycopg.Connection, function_id: str) -> list[float]:
    """Per-step overhead (ms) of a CHAIN_STEPS-step chain."""
    run_id = _run(base_url, {"chain": [{"function": function_id}] * CHAIN_STEPS})
    _, _, created_at, _ = _wait_run(conn, run_id)
    rows = conn.execute(
        "SELECT completed_at, (metrics->>'durationMs')::float8 FROM executions WHERE workflow_run_id = %s "
        "ORDER BY (split_part(step_path, '/', 4))::int",
        (run_id,),
    ).fetchall()
    if len(rows) != CHAIN_STEPS:
        raise BenchError(f"the chain ran {len(rows)} steps, not {CHAIN_STEPS}")
    overheads, previous = [], created_at
    for completed_at, duration_ms in rows:
        overheads.append((completed_at - previous).total_seconds() * 1000.0 - duration_ms)
        previous = completed_at
    return overheads


def measure_chord(base_url: str, conn: psycopg.Connection, function_id: str) -> float:
    """Seconds from submitting a CHORD_WIDTH-wide chord to the end of its `then` step."""
    started = time.perf_counter()
    run_id = _run(
        base_url,
        {"chord": {"group": [{"function": function_id}] * CHORD_WIDTH, "then": {"function": function_id}}},
    )
    _wait_run(conn, run_id)
    return time.perf_counter() - started


def measure_drain(conn: psycopg.Connection, function_id: str, n: int = CHORD_WIDTH + 1) -> float:
    """Seconds from the commit of n queued executions (one transaction) to the last one's end."""
    fid = uuid.UUID(function_id)
    tenant = conn.execute("SELECT tenant_id FROM functions WHERE id = %s", (fid,)).fetchone()[0]
    payload = json.loads(ECHO_INPUT)
    with conn.transaction():
        for _ in range(n):
            enqueue_execution(conn, tenant_id=tenant, function_id=fid, input=payload, trigger_type="API")
    started = time.perf_counter()  # from the commit, as bench "async" does: the chord pays its submit
    deadline = started + 600
    while conn.execute(
        f"SELECT count(*) FROM executions WHERE function_id = %s AND status IN ('{ExecutionStatus.PENDING}', "
        f"'{ExecutionStatus.RUNNING}')",
        (fid,),
    ).fetchone()[0]:
        if time.perf_counter() > deadline:
            raise BenchError("plain executions still queued after 600 s")
        time.sleep(0.01)
    return time.perf_counter() - started


def run() -> list[dict]:
    """Start web + compile pipeline + executor, measure, emit."""
    with executor_stack() as stack:
        http = Http(stack.base_url)
        try:
            chain_fn = ready_function(http, "bench-wf-chain", "assemblyscript", ECHO_SOURCE.read_text())
            chord_fn = ready_function(http, "bench-wf-chord", "assemblyscript", ECHO_SOURCE.read_text())
            drain_fn = ready_function(http, "bench-wf-drain", "assemblyscript", ECHO_SOURCE.read_text())
        finally:
            http.close()
        time.sleep(COMPILER_SETTLE_S)  # the compiler's background warm-up off the two cores
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            overheads = measure_chain(stack.base_url, conn, chain_fn)
            chords, drains = [], []
            for _ in range(ROUNDS):
                drains.append(measure_drain(conn, drain_fn))
                chords.append(measure_chord(stack.base_url, conn, chord_fn))
    chord_s, drain_s = statistics.median(chords), statistics.median(drains)
    ratio = chord_s / drain_s
    step_p50 = p50(overheads)
    return [
        emit(
            BENCH,
            "chain_step_overhead_p50_ms",
            step_p50,
            "ms",
            steps=CHAIN_STEPS,
            goal=f"<= {STEP_OVERHEAD_GOAL_MS:g}",
            met=step_p50 <= STEP_OVERHEAD_GOAL_MS,
        ),
        emit(BENCH, "chain_step_overhead_p95_ms", p95(overheads), "ms", steps=CHAIN_STEPS),
        emit(BENCH, "chord_999_s", chord_s, "s", per_round=[round(c, 3) for c in chords]),
        emit(BENCH, "drain_1000_s", drain_s, "s", per_round=[round(d, 3) for d in drains]),
        emit(
            BENCH,
            "chord_vs_drain_ratio",
            ratio,
            "ratio",
            goal=f"<= {RATIO_GOAL:g}",
            met=ratio <= RATIO_GOAL,
        ),
    ]
