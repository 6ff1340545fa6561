"""bench "javascript": a JavaScript echo in QuickJS-NG, through the runner pool and over HTTP.

`runner_p50_ms`/`runner_p95_ms` run the echo through an in-process RunnerPool (a fresh QuickJS
instance every run, no HTTP, no database). `http_p50_ms`/`http_p95_ms` time sync
`POST /functions/{id}/execute` of the same echo one at a time over a keep-alive connection
against the real Procfile processes.

Run: python -m bench.javascript_http
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from bench.execute_http import WEB_ENV, function_http_ms
from bench.javascript_runner import ECHO_INPUT, ECHO_SOURCE, measure_js_runner
from bench.report import emit, p50, p95
from runner.sandbox.pool import RunnerPool

BENCH = "javascript"


def run(
    *,
    web_env: Mapping[str, str] | None = None,
    runner_runs: int = 1000,
    http_requests: int = 1000,
    database_url: str | None = None,
) -> list[dict]:
    """Measure the pool, then start the stack and measure HTTP; emit every metric."""
    with RunnerPool(1) as pool:
        runner = measure_js_runner(pool, runner_runs)
    body = json.dumps({"input": json.loads(ECHO_INPUT)}).encode()
    env = WEB_ENV if web_env is None else web_env
    samples = function_http_ms(
        env, database_url, "bench-js-echo", "javascript", ECHO_SOURCE, body, http_requests
    )
    return [
        emit(BENCH, "runner_p50_ms", runner["p50_ms"], "ms", runs=runner["runs"]),
        emit(BENCH, "runner_p95_ms", runner["p95_ms"], "ms", runs=runner["runs"]),
        emit(BENCH, "http_p50_ms", p50(samples), "ms", runs=len(samples)),
        emit(BENCH, "http_p95_ms", p95(samples), "ms", runs=len(samples)),
    ]


if __name__ == "__main__":
    run()
