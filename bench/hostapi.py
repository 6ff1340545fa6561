"""bench "hostapi": the key-value host calls as a JavaScript function sees them, in microseconds.

One JavaScript function times each of its own `pnil.kv.get` / `pnil.kv.set` calls with
`performance.now()` (microsecond resolution inside QuickJS) and returns the samples; the same
function with no call in the loop times the empty loop body, whose median is taken off every
sample. Runs through sync `POST /functions/{id}/execute` of the real Procfile processes, so the
path is the one production takes: sandbox → pipe → parent thread → hostapi/calls.py on the
execution's own connection → PostgreSQL and back.

`kv_get_p50_us` (goal <= 300), `kv_get_p95_us`, `kv_set_p50_us`, `kv_set_p95_us`, `noop_p50_us`.

A kv.get is one statement: a read, which also reserves calls of maxApiCallsPerMinute when the run
holds none (hostapi/call_budget.py; the bench's limit is high, so most reads reserve nothing). A
kv.set is one statement too (quota room and upsert, a reservation when needed), whose commit waits
for its WAL flush: that flush, the disk's, is most of `kv_set_*`.
"""

from __future__ import annotations

import json

from bench import BenchError
from bench.execute_http import WEB_ENV, Http, api_stack, ready_function
from bench.report import emit, p50, p95
from contracts.statuses import ExecutionStatus

BENCH = "host_api"
CALLS_PER_RUN = 200
RUNS = 10
SOURCE = """
function handle(input) {
  const samples = [];
  if (input.op === 'set') pnil.kv.set('bench-key', {n: 0});
  for (let i = 0; i < input.calls; i++) {
    const started = performance.now();
    if (input.op === 'get') pnil.kv.get('bench-key');
    else if (input.op === 'set') pnil.kv.set('bench-key', {n: i});
    samples.push((performance.now() - started) * 1000);
  }
  return samples;
}
"""
LIMITS = {"maxApiCallsPerMinute": 1_000_000, "maxConcurrentRuns": 4}


def _samples(http: Http, function_id: str, op: str, runs: int = RUNS) -> list[float]:
    samples: list[float] = []
    for _ in range(runs):
        status, data = http.call(
            "POST", f"/functions/{function_id}/execute", {"input": {"op": op, "calls": CALLS_PER_RUN}}
        )
        body = json.loads(data)
        if status != 200 or body.get("status") != ExecutionStatus.COMPLETED:
            raise BenchError(f"{op} run answered {status}: {data[:500]!r}")
        samples.extend(body["output"])
    return samples


def run() -> list[dict]:
    with api_stack(dict(WEB_ENV)) as stack:
        http = Http(stack.base_url)
        try:
            fid = ready_function(http, "bench-kv", "javascript", SOURCE, limits=LIMITS)
            for op in ("noop", "get", "set"):  # warm every path once
                _samples(http, fid, op, runs=1)
            rounds = {"noop": [], "get": [], "set": []}
            for _ in range(2):  # in turns: the machine's load drifts
                for op in rounds:
                    rounds[op].extend(_samples(http, fid, op, runs=RUNS // 2))
        finally:
            http.close()
    loop = p50(rounds["noop"])
    get = [s - loop for s in rounds["get"]]
    set_ = [s - loop for s in rounds["set"]]
    n = len(get)
    return [
        emit(BENCH, "noop_p50_us", loop, "us", calls=len(rounds["noop"])),
        emit(BENCH, "kv_get_p50_us", p50(get), "us", calls=n, goal="<= 300"),
        emit(BENCH, "kv_get_p95_us", p95(get), "us", calls=n),
        emit(BENCH, "kv_set_p50_us", p50(set_), "us", calls=len(set_)),
        emit(BENCH, "kv_set_p95_us", p95(set_), "us", calls=len(set_)),
    ]
