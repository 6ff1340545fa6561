"""bench "http_trigger": an AssemblyScript echo bound to /http/default/echo, against sync execute.

`p50_ms`/`p95_ms`: sequential POSTs to the HTTP trigger over one keep-alive connection;
`execute_p50_ms`: the same body through POST /functions/{id}/execute in the same stack, and
`ratio_vs_execute`; `throughput_c8`: 8 closed-loop clients for 10 s. Same web settings as
bench "execute".
"""

from __future__ import annotations

import json

from bench import BenchError
from bench.execute_http import (
    WEB_ENV,
    Http,
    api_stack,
    measure_http_ms,
    ready_function,
    run_load_client,
)
from bench.report import emit, p50, p95
from bench.runner_echo import ECHO_INPUT, ECHO_SOURCE

BENCH = "http_trigger"
EXPECT = b'"method":"POST"'


def run() -> list[dict]:
    body = json.dumps({"input": json.loads(ECHO_INPUT)}).encode()
    with api_stack(dict(WEB_ENV)) as stack:
        http = Http(stack.base_url)
        try:
            status, data = http.call(
                "POST",
                "/functions",
                {
                    "name": "bench-http-echo",
                    "language": "assemblyscript",
                    "source": ECHO_SOURCE.read_text(),
                    "type": "HTTP",
                    "httpPath": "/echo",
                    "httpMethods": ["POST"],
                    "resourceLimits": {"maxConcurrentRuns": 16},
                },
            )
            if status != 201:
                raise BenchError(f"POST /functions answered {status}: {data[:300]!r}")
            execute_fn = ready_function(http, "bench-exec-echo", "assemblyscript", ECHO_SOURCE.read_text())
            trigger = measure_http_ms(http, "", body, path="/http/default/echo", expect=EXPECT)
            execute = measure_http_ms(http, execute_fn, body)
        finally:
            http.close()
        load = run_load_client(
            f"{stack.base_url}/http/default/echo", body, concurrency=8, seconds=10.0, expect=EXPECT
        )
        if load["errors"]:
            raise BenchError(f"load client saw {load['errors']} errors: {load.get('first_error')}")
    return [
        emit(BENCH, "p50_ms", p50(trigger), "ms", runs=len(trigger)),
        emit(BENCH, "p95_ms", p95(trigger), "ms", runs=len(trigger)),
        emit(BENCH, "execute_p50_ms", p50(execute), "ms", runs=len(execute)),
        emit(BENCH, "ratio_vs_execute", p50(trigger) / p50(execute), "x"),
        emit(
            BENCH, "throughput_c8", load["per_s"], "requests/s", p50_ms=load["p50_ms"], p95_ms=load["p95_ms"]
        ),
    ]
