"""bench "execute": an AssemblyScript echo through the runner pool, then through the whole HTTP stack.

`runner_p50_ms` runs the compiled artifact in an in-process RunnerPool (no HTTP, no database).
`http_p50_ms`/`http_p95_ms` time sync `POST /functions/{id}/execute` one at a time over one
keep-alive connection against the real Procfile processes. `http_throughput_c8` is what 8
closed-loop clients in a separate process (bench.load_client) complete per second in 10 s.

Run: python -m bench.execute_http [--web-concurrency N] [--threads N] [--pool-size N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import psycopg

from bench import BenchError
from bench.report import emit, p50, p95
from bench.runner_echo import ECHO_INPUT, ECHO_SOURCE, measure_runner_p50_ms
from bench.stack import PROJECT_ROOT, Stack, env_database_url
from contracts.statuses import CompileStatus
from runner.sandbox.pool import RunnerPool

BENCH = "execute"
# Tuned on the 2-core bench machine (see the sweep in the closing note).
WEB_ENV = {"WEB_CONCURRENCY": "2", "PNIL_WEB_THREADS": "12", "PNIL_RUNNER_POOL_SIZE": "1"}
READY_TIMEOUT_S = 60.0
EXPECT = b'"status":"COMPLETED"'


class Http:
    """One keep-alive connection to the stack, JSON in and out."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


# Above the 8 closed-loop clients of http_throughput_c8: the figure measures the stack, not the
# function's concurrency limit (which is enforced: a 9th concurrent call would wait for a slot).
BENCH_LIMITS = {"maxConcurrentRuns": 16}


def ready_function(http: Http, name: str, language: str, source: str, limits: dict | None = None) -> str:
    """Register a function (maxConcurrentRuns 16 unless `limits`) and poll until READY; returns its id."""
    body = {"name": name, "language": language, "source": source, "resourceLimits": limits or BENCH_LIMITS}
    status, data = http.call("POST", "/functions", body)
    if status != 201:
        raise BenchError(f"POST /functions answered {status}: {data[:500]!r}")
    function_id = json.loads(data)["id"]
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        body = json.loads(http.call("GET", f"/functions/{function_id}")[1])
        if body["status"] == CompileStatus.READY:
            return function_id
        if body["status"] == CompileStatus.FAILED:
            raise BenchError(f"{name} failed to compile: {body['compileError']}")
        time.sleep(0.01)
    raise BenchError(f"{name} was not READY within {READY_TIMEOUT_S:.0f}s")


def artifact_of(database_url: str, function_id: str) -> bytes:
    """The compiled binary the web process runs, straight from the database."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT wasm_binary FROM functions WHERE id = %s", (function_id,)).fetchone()
    if row is None or row[0] is None:
        raise BenchError(f"function {function_id} has no wasm_binary")
    return bytes(row[0])


def measure_http_ms(
    http: Http,
    function_id: str,
    body: bytes,
    *,
    warmup: int = 200,
    n: int = 1000,
    path: str | None = None,
    expect: bytes = EXPECT,
) -> list[float]:
    """Sequential POSTs (sync executes by default) over one keep-alive connection: ms per request."""
    path = path or f"/functions/{function_id}/execute"
    headers = {"Content-Type": "application/json"}
    samples: list[float] = []
    for i in range(warmup + n):
        started = time.perf_counter()
        http.conn.request("POST", path, body=body, headers=headers)
        response = http.conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000.0
        if response.status != 200 or expect not in data:
            raise BenchError(f"execute answered {response.status}: {data[:500]!r}")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def run_load_client(
    url: str, body: bytes, *, concurrency: int, seconds: float, processes: int = 1, expect: bytes = EXPECT
) -> dict:
    """bench.load_client in its own process; returns its JSON summary."""
    argv = [sys.executable, "-m", "bench.load_client", url, "--concurrency", str(concurrency)]
    argv += ["--seconds", str(seconds), "--body", body.decode(), "--expect", expect.decode()]
    argv += ["--processes", str(processes)]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise BenchError(f"load client failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def api_stack(env: dict[str, str], database_url: str | None = None) -> Stack:
    """The web, compiler and consumer processes on a throwaway (or the given) database."""
    return Stack(
        processes=("web", "compiler", "consumer"),
        extra_env=env,
        database_url=database_url or env_database_url(),
    )


def run(
    *,
    web_env: Mapping[str, str] | None = None,
    http_requests: int = 1000,
    load_seconds: float = 10.0,
    load_processes: int = 1,
    database_url: str | None = None,
) -> list[dict]:
    """Start the stack, measure, emit every metric; returns the emitted lines."""
    env = dict(WEB_ENV if web_env is None else web_env)
    body = json.dumps({"input": json.loads(ECHO_INPUT)}).encode()
    lines = []
    with api_stack(env, database_url) as stack:
        http = Http(stack.base_url)
        try:
            function_id = ready_function(http, "bench-echo", "assemblyscript", ECHO_SOURCE.read_text())
            artifact = artifact_of(stack.database_url, function_id)
            with RunnerPool(1) as pool:
                runner = measure_runner_p50_ms(pool, artifact, n=2000)
            samples = measure_http_ms(http, function_id, body, n=http_requests)
        finally:
            http.close()
        load = run_load_client(
            f"{stack.base_url}/functions/{function_id}/execute",
            body,
            concurrency=8,
            seconds=load_seconds,
            processes=load_processes,
        )
        if load["errors"]:
            raise BenchError(f"load client saw {load['errors']} errors: {load.get('first_error')}")
    config = {key.lower(): value for key, value in env.items()}
    http_p50 = p50(samples)
    lines.append(emit(BENCH, "runner_p50_ms", runner["p50_ms"], "ms", runs=runner["runs"]))
    lines.append(emit(BENCH, "http_p50_ms", http_p50, "ms", runs=len(samples), **config))
    lines.append(emit(BENCH, "http_p95_ms", p95(samples), "ms", runs=len(samples)))
    lines.append(
        emit(
            BENCH,
            "http_throughput_c8",
            load["per_s"],
            "executions/s",
            p50_ms=load["p50_ms"],
            p95_ms=load["p95_ms"],
            requests=load["requests"],
            maxconcurrentruns=BENCH_LIMITS["maxConcurrentRuns"],
            goal=">= 750",  # issue 28: back to wave 1's figure
            **config,
        )
    )
    lines.append(emit(BENCH, "overhead_ms", http_p50 - runner["p50_ms"], "ms"))
    return lines


def function_http_ms(
    env: Mapping[str, str],
    database_url: str | None,
    name: str,
    language: str,
    source: str,
    body: bytes,
    n: int,
) -> list[float]:
    """Start the stack, register one function and time `n` sync executions of it over HTTP."""
    with api_stack(dict(env), database_url) as stack:
        http = Http(stack.base_url)
        try:
            function_id = ready_function(http, name, language, source)
            return measure_http_ms(http, function_id, body, n=n)
        finally:
            http.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark with optional web-process tuning from the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.execute_http", description=__doc__.splitlines()[0])
    parser.add_argument("--web-concurrency", help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--threads", help="gthreads per worker (PNIL_WEB_THREADS)")
    parser.add_argument("--pool-size", help="runner subprocesses per worker (PNIL_RUNNER_POOL_SIZE)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--load-processes", type=int, default=1)
    args = parser.parse_args(argv)
    env = dict(WEB_ENV)
    for name, value in (
        ("WEB_CONCURRENCY", args.web_concurrency),
        ("PNIL_WEB_THREADS", args.threads),
        ("PNIL_RUNNER_POOL_SIZE", args.pool_size),
    ):
        if value is not None:
            env[name] = value
    run(
        web_env=env,
        http_requests=args.requests,
        load_seconds=args.seconds,
        load_processes=args.load_processes,
    )


if __name__ == "__main__":
    main()
