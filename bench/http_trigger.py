"""bench "http_trigger": an AssemblyScript echo bound to /http/default/echo, against sync execute.

`p50_ms`/`p95_ms`: sequential POSTs to the HTTP trigger over one keep-alive connection;
`execute_p50_ms`: the same body through POST /functions/{id}/execute in the same stack, and
`ratio_vs_execute` (goal <= 1.1). The two are taken in turns of 25 requests (1,000 each), so that
both see the same minutes of a machine whose speed drifts, and the compiler's warm-up after the
functions were registered; `throughput_c8`: 8 closed-loop clients, and
`execute_throughput_c8` the same against sync execute, each 2 × 5 s taken in turns (the machine's
load drifts), and `throughput_ratio_vs_execute` (goal >= 0.9). Same web settings as bench "execute".
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
TRIGGER_PATH = "/http/default/echo"
TURNS, PER_TURN = 40, 25


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
            trigger, execute = _latencies_in_turns(http, execute_fn, body)
        finally:
            http.close()
        loads = {"trigger": [], "execute": []}
        for _ in range(2):
            loads["trigger"].append(_load(f"{stack.base_url}{TRIGGER_PATH}", body, EXPECT))
            loads["execute"].append(_load(f"{stack.base_url}/functions/{execute_fn}/execute", body))
    load = _combined(loads["trigger"])
    execute_load = _combined(loads["execute"])
    return [
        emit(BENCH, "p50_ms", p50(trigger), "ms", runs=len(trigger)),
        emit(BENCH, "p95_ms", p95(trigger), "ms", runs=len(trigger)),
        emit(BENCH, "execute_p50_ms", p50(execute), "ms", runs=len(execute)),
        emit(BENCH, "ratio_vs_execute", p50(trigger) / p50(execute), "x", goal="<= 1.1"),
        emit(BENCH, "throughput_c8", load["per_s"], "requests/s", p50_ms=load["p50_ms"]),
        emit(
            BENCH, "execute_throughput_c8", execute_load["per_s"], "requests/s", p50_ms=execute_load["p50_ms"]
        ),
        emit(
            BENCH,
            "throughput_ratio_vs_execute",
            load["per_s"] / execute_load["per_s"],
            "x",
            goal=">= 0.9",
        ),
    ]


def _latencies_in_turns(http: Http, execute_fn: str, body: bytes) -> tuple[list[float], list[float]]:
    """ms per sequential request of the trigger and of sync execute, measured in alternate turns."""

    def trigger(**kwargs) -> list[float]:
        return measure_http_ms(http, "", body, path=TRIGGER_PATH, expect=EXPECT, **kwargs)

    def execute(**kwargs) -> list[float]:
        return measure_http_ms(http, execute_fn, body, **kwargs)

    trigger(n=0)  # the warm-up of each
    execute(n=0)
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(TURNS):
        samples[0].extend(trigger(warmup=0, n=PER_TURN))
        samples[1].extend(execute(warmup=0, n=PER_TURN))
    return samples


def _load(url: str, body: bytes, expect: bytes | None = None) -> dict:
    kwargs = {"expect": expect} if expect is not None else {}
    load = run_load_client(url, body, concurrency=8, seconds=5.0, **kwargs)
    if load["errors"]:
        raise BenchError(f"load client saw {load['errors']} errors: {load.get('first_error')}")
    return load


def _combined(loads: list[dict]) -> dict:
    """Requests per second over every turn; the mean of the turns' p50s."""
    seconds = sum(load["requests"] / load["per_s"] for load in loads)
    p50_ms = sum(load["p50_ms"] for load in loads) / len(loads)
    return {"per_s": sum(load["requests"] for load in loads) / seconds, "p50_ms": p50_ms}
