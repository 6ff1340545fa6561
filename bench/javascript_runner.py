"""Execute-step benchmark: a JavaScript echo run in QuickJS, in process or through the pool.

Run: .venv/bin/python -m bench.javascript_runner [--runs N] [--pool SIZE]   (prints JSON lines)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Protocol

from bench.report import emit
from runner.contract import Language, RunRequest, RunResult, RunStatus

ECHO_SOURCE = "function handle(input) { return input; }\n"
ECHO_INPUT = json.dumps({"user": "Zoë", "items": [1, 2, 3], "nested": {"ok": True}})


class Runs(Protocol):
    def run(self, request: RunRequest) -> RunResult: ...


def measure_js_runner(runner_or_pool: Runs, n: int = 1000) -> dict:
    """Sequential JS echo runs: p50/p95/p99 and mean wall time per run in ms."""
    request = RunRequest(language=Language.JAVASCRIPT, artifact=ECHO_SOURCE.encode(), input_json=ECHO_INPUT)
    for _ in range(min(50, n)):  # warm the code paths (and the pool's QuickJS) first
        runner_or_pool.run(request)
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        result = runner_or_pool.run(request)
        samples.append((time.perf_counter() - started) * 1000.0)
        if result.status is not RunStatus.COMPLETED or json.loads(result.output_json or "") != (
            json.loads(ECHO_INPUT)
        ):
            raise RuntimeError(f"echo run failed: {result.status} {result.error_message}")
    samples.sort()
    return {
        "p50_ms": samples[len(samples) // 2],
        "p95_ms": samples[int(len(samples) * 0.95)],
        "p99_ms": samples[int(len(samples) * 0.99)],
        "mean_ms": statistics.fmean(samples),
        "runs": n,
    }


def main(argv: list[str] | None = None) -> None:
    """Print the in-process (or pool) JS echo latency as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=0, help="run through a RunnerPool of SIZE")
    args = parser.parse_args(argv)
    if args.pool:
        from runner.sandbox.pool import RunnerPool

        with RunnerPool(args.pool) as pool:
            stats = measure_js_runner(pool, args.runs)
        prefix = "pool_"
    else:
        from runner.engine import make_engine
        from runner.javascript.runner import JavaScriptRunner

        stats = measure_js_runner(JavaScriptRunner(make_engine()), args.runs)
        prefix = "runner_"
    for key in ("p50", "p95"):
        emit("javascript", f"{prefix}{key}_ms", round(stats[f"{key}_ms"], 3), "ms")


if __name__ == "__main__":
    main()
