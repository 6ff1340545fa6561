"""bench "fairness": one tenant floods slow executions; another tenant's fast function and /health.

Tenant A runs 50 closed-loop clients calling an infinite loop (`maxExecutionTimeMs` 1000,
`maxConcurrentRuns` 50) for FLOOD_S seconds, each coming back after `Retry-After` when refused;
meanwhile tenant B calls a fast function one call at a time and a third client polls
`GET /health`. B's latency is also measured before the flood, in the same run, as the baseline.
Real Procfile processes (2 gunicorn workers) on real PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import psycopg
import requests

from bench import BenchError
from bench.report import emit, p50
from bench.stack import Stack, env_database_url
from store import tenants

BENCH = "fairness"
FLOOD_CLIENTS = 50
FLOOD_S = 10.0
BASELINE_CALLS = 50
LOOP = "function handle(i) { while (true) {} }"
FAST = "function handle(i) { return i; }"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def _function(url: str, key: str, name: str, source: str, limits: dict | None = None) -> str:
    body = {"name": name, "language": "javascript", "source": source, "resourceLimits": limits or {}}
    headers = {"Authorization": f"Bearer {key}"}
    created = requests.post(f"{url}/functions", json=body, headers=headers, timeout=30)
    if created.status_code != 201:
        raise BenchError(f"POST /functions answered {created.status_code}: {created.text[:300]}")
    deadline = time.monotonic() + 60
    while requests.get(f"{url}/functions/{name}", headers=headers, timeout=30).json()["status"] != "READY":
        if time.monotonic() > deadline:
            raise BenchError(f"{name} did not compile within 60 s")
        time.sleep(0.05)
    return name


def _timed_calls(session: requests.Session, url: str, key: str, stop: threading.Event | None, count: int):
    """(latencies in ms, non-200 answers) of sequential executes of B's function."""
    latencies, failures = [], 0
    headers = {"Authorization": f"Bearer {key}"}
    while (stop is None and len(latencies) < count) or (stop is not None and not stop.is_set()):
        started = time.perf_counter()
        answer = session.post(
            f"{url}/functions/fast/execute", json={"input": {"n": 1}}, headers=headers, timeout=60
        )
        latencies.append((time.perf_counter() - started) * 1000)
        failures += answer.status_code != 200
    return latencies, failures


def run(*, flood_s: float = FLOOD_S, database_url: str | None = None) -> list[dict]:
    env = {"WEB_CONCURRENCY": "2", "PNIL_ALLOW_ANONYMOUS": "0"}
    with Stack(
        ("web", "compiler", "consumer"), extra_env=env, database_url=database_url or env_database_url()
    ) as stack:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            key_a = tenants.create_key(conn, "flooder", name="a")[1]
            key_b = tenants.create_key(conn, "neighbour", name="b")[1]
        url = stack.base_url
        _function(url, key_a, "loop", LOOP, {"maxExecutionTimeMs": 1000, "maxConcurrentRuns": 50})
        _function(url, key_b, "fast", FAST)
        with requests.Session() as session:
            _timed_calls(session, url, key_b, None, 5)  # warm both workers' sandboxes
            baseline, _ = _timed_calls(session, url, key_b, None, BASELINE_CALLS)

        stop = threading.Event()
        flood = {"ran": 0, "refused": 0}
        lock = threading.Lock()

        def flooder() -> None:
            headers = {"Authorization": f"Bearer {key_a}"}
            with requests.Session() as own:
                while not stop.is_set():
                    answer = own.post(
                        f"{url}/functions/loop/execute", json={"input": {}}, headers=headers, timeout=60
                    )
                    with lock:
                        flood["ran" if answer.status_code == 200 else "refused"] += 1
                    if answer.status_code == 429:  # told to come back: as a client following the API does
                        time.sleep(float(answer.headers.get("Retry-After", "1")))

        health: list[float] = []

        def poll_health() -> None:
            with requests.Session() as own:
                while not stop.is_set():
                    started = time.perf_counter()
                    own.get(f"{url}/health", timeout=60)
                    health.append((time.perf_counter() - started) * 1000)
                    time.sleep(0.05)

        threads = [threading.Thread(target=flooder) for _ in range(FLOOD_CLIENTS)] + [
            threading.Thread(target=poll_health)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # let the flood fill every slot first
        timer = threading.Timer(flood_s, stop.set)
        timer.start()
        with requests.Session() as session:
            during, failures = _timed_calls(session, url, key_b, stop, 0)
        for thread in threads:
            thread.join(120)
    if not during:
        raise BenchError("no call of the other tenant finished during the flood")
    return [
        emit(BENCH, "other_tenant_p99_ms", _p99(during), "ms", n=len(during), goal="<= 100", failed=failures),
        emit(BENCH, "other_tenant_max_ms", max(during), "ms", n=len(during), goal="<= 1000"),
        emit(BENCH, "health_max_ms", max(health), "ms", n=len(health), goal="<= 1000"),
        emit(BENCH, "other_tenant_p50_ms", p50(during), "ms", baseline_p50_ms=round(p50(baseline), 2)),
        emit(BENCH, "other_tenant_p50_vs_baseline", p50(during) / p50(baseline), "ratio"),
        emit(BENCH, "flood_executions", flood["ran"], "count", refused_429=flood["refused"], seconds=flood_s),
    ]
