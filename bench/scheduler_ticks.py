"""bench "scheduler": 1,000 SCHEDULED functions on `* * * * *`, two schedulers, one executor.

Waits for one real minute boundary: `fired` (executions queued for that tick; exactly 1,000 means
no tick lost and none doubled), `lateness_p50_ms`/`lateness_p95_ms` from the tick's scheduledFor
to the execution's RUNNING (startedAt), goal p95 <= 2,000 ms, and `queued_p95_ms`, the schedulers'
part of it (tick to PENDING). Then `idle_cpu_pct`: CPU of one scheduler holding 10,000 SCHEDULED
functions, over 10 s in which none of them is due, once both schedulers hold them (their
heartbeats say so), goal <= 1 %.

Run: python -m bench scheduler
"""

from __future__ import annotations

import shlex
import subprocess
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench import BenchError
from bench.execute_http import Http, ready_function
from bench.report import emit, p50, p95
from bench.runner_echo import ECHO_SOURCE
from bench.stack import PROJECT_ROOT, executor_stack
from contracts.statuses import CompileStatus, ExecutionStatus

BENCH = "scheduler"
FUNCTIONS = 1000
IDLE_FUNCTIONS = 10_000
IDLE_WINDOW_S = 10.0
# Issue 28: a tick of 1,000 functions queued in a few statements; idle, sleep until the next tick.
LATENESS_P95_GOAL = "<= 2000"
IDLE_CPU_GOAL = "<= 1"


def clone_scheduled(conn: psycopg.Connection, template_id: str, n: int, cron: str) -> None:
    """n SCHEDULED copies of a compiled function (same binary), each its own function."""
    conn.execute(
        "INSERT INTO functions (tenant_id, name, language, source, wasm_binary, status, trigger_type, "
        "cron_expression, resource_limits) "
        f"SELECT tenant_id, 'sched-' || g, language, source, wasm_binary, '{CompileStatus.READY}', "
        "'SCHEDULED', %s, "
        "resource_limits FROM functions, generate_series(1, %s) g WHERE id = %s",
        (cron, n, template_id),
    )


def picked_up(conn: psycopg.Connection, functions: int, schedulers: int, timeout_s: float = 60.0) -> None:
    """Wait until every scheduler holds the `functions` (their heartbeat says so, every 5 s) and a
    moment more: from then on they are idle."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        holding = conn.execute(
            "SELECT count(*) FROM schedulers WHERE functions = %s "
            "AND seen_at > now() - interval '30 seconds'",
            (functions,),
        ).fetchone()[0]
        if holding >= schedulers:
            break
        time.sleep(0.5)
    time.sleep(1)


def cpu_ticks(pid: int) -> int:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run() -> list[dict]:
    lines = []
    with executor_stack() as stack:
        http = Http(stack.base_url)
        try:
            template = ready_function(http, "bench-sched-echo", "assemblyscript", ECHO_SOURCE.read_text())
        finally:
            http.close()
        env = stack._process_env()
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            clone_scheduled(conn, template, FUNCTIONS, "* * * * *")
            schedulers = [
                subprocess.Popen(
                    shlex.split("python -m scheduler"),
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(2)
            ]
            try:
                lines += measure_tick(conn)
                conn.execute("DELETE FROM functions WHERE name LIKE 'sched-%%'")
                clone_scheduled(conn, template, IDLE_FUNCTIONS, "0 0 1 1 *")
                picked_up(conn, IDLE_FUNCTIONS, len(schedulers))
                before = cpu_ticks(schedulers[0].pid)
                time.sleep(IDLE_WINDOW_S)
                used_s = (cpu_ticks(schedulers[0].pid) - before) / 100.0
                lines.append(
                    emit(
                        BENCH,
                        "idle_cpu_pct",
                        100.0 * used_s / IDLE_WINDOW_S,
                        "%",
                        functions=IDLE_FUNCTIONS,
                        windowS=IDLE_WINDOW_S,
                        goal=IDLE_CPU_GOAL,
                    )
                )
            finally:
                for proc in schedulers:
                    proc.terminate()
                    proc.wait(20)
    return lines


def measure_tick(conn: psycopg.Connection) -> list[dict]:
    now = datetime.now(UTC)
    if now.second > 50:  # too close to the boundary for the schedulers to have loaded everything
        time.sleep(61 - now.second)
    boundary = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    tick = boundary.isoformat()
    time.sleep(max(0.0, boundary.timestamp() - time.time()))
    deadline = time.monotonic() + 120
    while True:
        started, pending, fired = conn.execute(
            "SELECT count(*) FILTER (WHERE started_at IS NOT NULL), "
            f"count(*) FILTER (WHERE status IN ('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}')), "
            "count(*) "
            "FROM executions WHERE trigger_type = 'CRON' AND trigger_data->>'scheduledFor' = %s",
            (tick,),
        ).fetchone()
        if fired >= FUNCTIONS and pending == 0:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"after 120 s: {fired} fired, {started} started, {pending} still queued")
        time.sleep(0.2)
    time.sleep(2)  # a duplicate would show up now
    rows = conn.execute(
        "SELECT extract(epoch FROM started_at - (trigger_data->>'scheduledFor')::timestamptz) * 1000, "
        "extract(epoch FROM created_at - (trigger_data->>'scheduledFor')::timestamptz) * 1000 "
        "FROM executions WHERE trigger_type = 'CRON' AND trigger_data->>'scheduledFor' = %s",
        (tick,),
    ).fetchall()
    per_tick = conn.execute(
        "SELECT count(DISTINCT function_id) FROM executions "
        "WHERE trigger_type = 'CRON' AND trigger_data->>'scheduledFor' = %s",
        (tick,),
    ).fetchone()[0]
    lateness = [float(r[0]) for r in rows]
    queued = [float(r[1]) for r in rows]
    return [
        emit(
            BENCH,
            "fired",
            len(rows),
            "executions",
            functions=FUNCTIONS,
            distinctFunctions=per_tick,
            schedulers=2,
            tick=tick,
        ),
        emit(BENCH, "lateness_p50_ms", p50(lateness), "ms"),
        emit(BENCH, "lateness_p95_ms", p95(lateness), "ms", goal=LATENESS_P95_GOAL),
        # The schedulers' part of it: from the tick to the execution queued (PENDING).
        emit(BENCH, "queued_p95_ms", p95(queued), "ms"),
    ]
