"""bench "execute_floor": pnil's sync execute against the least its stack can do, in one run.

`floor_throughput_c8`: 8 closed-loop clients against bench/floor_app.py (same gunicorn settings,
Flask, psycopg pool and sandbox as pnil's web; two statements, one synchronous commit, nothing
else). `pnil_throughput_c8`: the same clients against pnil's `POST /functions/{id}/execute`.
Each prints the web process's CPU per request (gunicorn and its workers, sandboxes included),
and `pnil_vs_floor` is the throughput ratio: what pnil's features (keys, audit, metrics, logs,
slots, events, fairness, validation) cost on top of the parts it is built from.

Run: python -m bench execute_floor
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import psutil
import psycopg

from bench.execute_http import WEB_ENV, Http, api_stack, ready_function, run_load_client
from bench.floor_app import TABLE
from bench.report import emit
from bench.runner_echo import ECHO_INPUT, ECHO_SOURCE, compile_echo
from bench.stack import PROJECT_ROOT, Stack, env_database_url, free_port

BENCH = "execute_floor"
# pnil's own worker class (gunicorn.conf.py): the floor is served the way pnil is.
WORKER_CLASS = "web.gunicorn_worker.LingeringThreadWorker"
SECONDS = 10.0
BODY = json.dumps({"input": json.loads(ECHO_INPUT)}).encode()


def _web_cpu_s(stack: Stack) -> float:
    """CPU seconds used so far by the web process tree (gunicorn, workers, sandboxes)."""
    total = 0.0
    for proc in stack._procs:  # noqa: SLF001 - the bench owns the stack
        if proc.name != "web":
            continue
        root = psutil.Process(proc.popen.pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    return total


def _measure(stack: Stack, url: str) -> tuple[float, float]:
    """Warm up, then 8 clients for SECONDS: (requests per second, web CPU ms per request)."""
    run_load_client(url, BODY, concurrency=8, seconds=2.0)
    before = _web_cpu_s(stack)
    load = run_load_client(url, BODY, concurrency=8, seconds=SECONDS)
    used = _web_cpu_s(stack) - before
    return load["per_s"], used / max(1, load["requests"]) * 1000.0


def floor(database_url: str | None, wasm: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        procfile = Path(tmp) / "Procfile"
        port = free_port()
        procfile.write_text(
            f"web: gunicorn -w {WEB_ENV['WEB_CONCURRENCY']} -k {WORKER_CLASS} "
            f"--threads {WEB_ENV['PNIL_WEB_THREADS']} -b 127.0.0.1:{port} bench.floor_app:app\n"
        )
        env = {**WEB_ENV, "FLOOR_WASM": str(wasm)}
        with Stack(
            processes=("web",), procfile=procfile, port=port, extra_env=env, database_url=database_url
        ) as stack:
            with psycopg.connect(stack.database_url, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
                conn.execute(
                    f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, input jsonb, output jsonb, status text)"
                )
            try:
                return _measure(stack, f"{stack.base_url}/execute")
            finally:
                with psycopg.connect(stack.database_url, autocommit=True) as conn:
                    conn.execute(f"DROP TABLE {TABLE}")


def pnil(database_url: str | None) -> tuple[float, float]:
    with api_stack(dict(WEB_ENV), database_url) as stack:
        http = Http(stack.base_url)
        try:
            function_id = ready_function(http, "bench-echo", "assemblyscript", ECHO_SOURCE.read_text())
        finally:
            http.close()
        return _measure(stack, f"{stack.base_url}/functions/{function_id}/execute")


def run() -> list[dict]:
    database_url = env_database_url()
    with tempfile.TemporaryDirectory() as tmp:
        wasm = Path(tmp) / "echo.wasm"
        wasm.write_bytes(compile_echo())
        floor_per_s, floor_cpu = floor(database_url, wasm)
    pnil_per_s, pnil_cpu = pnil(database_url)
    return [
        emit(
            BENCH,
            "floor_throughput_c8",
            floor_per_s,
            "executions/s",
            web_cpu_ms_per_request=round(floor_cpu, 3),
        ),
        emit(
            BENCH, "pnil_throughput_c8", pnil_per_s, "executions/s", web_cpu_ms_per_request=round(pnil_cpu, 3)
        ),
        emit(BENCH, "pnil_vs_floor", pnil_per_s / floor_per_s, "ratio"),
    ]


if __name__ == "__main__":
    os.chdir(PROJECT_ROOT)
    run()
