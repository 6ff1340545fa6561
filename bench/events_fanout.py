"""bench "events": one event fanned out to 100 subscribed EVENT functions (an AssemblyScript echo each).

`fanout_to_all_completed_ms`: from POST /events to the 100th execution COMPLETED, through the
`events` queue, the dispatcher and one `executor` process (median of 5 events).
"""

from __future__ import annotations

import json
import time

import psycopg

from bench import BenchError
from bench.execute_http import Http, ready_function
from bench.report import emit, p50
from bench.runner_echo import ECHO_SOURCE
from bench.stack import executor_stack
from contracts.statuses import CompileStatus, ExecutionStatus

BENCH = "events"
SUBSCRIBERS = 100
ROUNDS = 5


def run() -> list[dict]:
    with executor_stack() as stack:
        http = Http(stack.base_url)
        try:
            template = ready_function(http, "bench-event-echo", "assemblyscript", ECHO_SOURCE.read_text())
            with psycopg.connect(stack.database_url, autocommit=True) as conn:
                conn.execute(
                    "INSERT INTO functions (tenant_id, name, language, source, wasm_binary, status, "
                    "trigger_type, event_types) SELECT tenant_id, 'sub-' || g, language, source, "
                    "wasm_binary, "
                    f"'{CompileStatus.READY}', 'EVENT', ARRAY['bench.ping'] FROM functions, "
                    "generate_series(1, %s) g "
                    "WHERE id = %s",
                    (SUBSCRIBERS, template),
                )
        finally:
            http.close()
        time.sleep(8)  # let the compiler's background warm-up finish
        http = Http(stack.base_url)  # a fresh connection: the idle one was closed by keep-alive
        try:
            with psycopg.connect(stack.database_url, autocommit=True) as conn:
                samples = [measure(http, conn) for _ in range(ROUNDS)]
        finally:
            http.close()
    return [
        emit(BENCH, "fanout_to_all_completed_ms", p50(samples), "ms", subscribers=SUBSCRIBERS, rounds=ROUNDS)
    ]


def measure(http: Http, conn: psycopg.Connection) -> float:
    started = time.perf_counter()
    status, data = http.call("POST", "/events", {"type": "bench.ping", "payload": {"n": 1}})
    if status != 202:
        raise BenchError(f"POST /events answered {status}: {data[:300]!r}")
    event_id = json.loads(data)["id"]
    deadline = started + 60
    while True:
        done = conn.execute(
            "SELECT count(*) FROM executions WHERE trigger_type = 'EVENT' AND trigger_data->>'eventId' = %s "
            f"AND status = '{ExecutionStatus.COMPLETED}'",
            (event_id,),
        ).fetchone()[0]
        if done >= SUBSCRIBERS:
            return (time.perf_counter() - started) * 1000.0
        if time.perf_counter() > deadline:
            raise BenchError(f"only {done} of {SUBSCRIBERS} executions completed within 60 s")
        time.sleep(0.005)
