"""bench "compile": POST /functions → READY over the real processes, against one `asc` CLI compile.

Registrations are sequential (one in flight at a time), each a distinct small AssemblyScript
handler, so no layer can answer from a cache. After one uncounted warm-up registration, each is
timed from just before its POST until a GET /functions/{id} (polled every ~5 ms) says READY.
The compiler's and consumer's own log lines split every registration into stages.

Then rollbacks: one function gets a second compiled version, and is rolled back alternately to
version 1 and 2; each is timed from just before its POST /rollback until READY is seen (the
response itself when the stored artifact was reused).
"""

from __future__ import annotations

import calendar
import logging
import time
import uuid
from datetime import datetime

import requests

from bench import BenchError
from bench.asc_cli import measure_asc_cli_ms, sample_source
from bench.report import emit, p50, p95
from bench.stack import PROJECT_ROOT, Stack, env_database_url
from contracts.statuses import CompileStatus

BENCH = "compile"
DEFAULT_REGISTRATIONS = 25
POLL_INTERVAL_S = 0.005
READY_TIMEOUT_S = 60.0
ASC_CLI_RUNS = 3

log = logging.getLogger(__name__)


def register_and_wait(session: requests.Session, base_url: str, name: str, source: str) -> tuple[str, float]:
    """POST a function, poll it until READY; return (id, wall time when the POST started)."""
    started_wall = time.time()
    response = session.post(
        f"{base_url}/functions", json={"name": name, "language": "assemblyscript", "source": source}
    )
    if response.status_code != 201:
        raise BenchError(f"POST /functions answered {response.status_code}: {response.text[:500]}")
    function_id = response.json()["id"]
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        body = session.get(f"{base_url}/functions/{function_id}").json()
        if body.get("status") == CompileStatus.READY:
            return function_id, started_wall
        if body.get("status") == CompileStatus.FAILED:
            raise BenchError(f"function {name} failed to compile: {body.get('compileError')}")
        if time.monotonic() > deadline:
            raise BenchError(f"function {name} was not READY within {READY_TIMEOUT_S}s (status {body})")
        time.sleep(POLL_INTERVAL_S)


def wait_ready(session: requests.Session, base_url: str, function_id: str, body: dict) -> None:
    """Poll until READY, starting from a response body already in hand."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while body.get("status") != CompileStatus.READY:
        if body.get("status") == CompileStatus.FAILED or time.monotonic() > deadline:
            raise BenchError(f"function {function_id} did not become READY: {body}")
        time.sleep(POLL_INTERVAL_S)
        body = session.get(f"{base_url}/functions/{function_id}").json()


def measure_rollbacks(session: requests.Session, base_url: str, function_id: str, count: int) -> list[float]:
    """ms from POST /rollback to READY seen, alternating between two compiled versions."""
    updated = session.put(f"{base_url}/functions/{function_id}", json={"source": sample_source(30_000)})
    if updated.status_code != 200:
        raise BenchError(f"PUT /functions answered {updated.status_code}: {updated.text[:500]}")
    wait_ready(session, base_url, function_id, updated.json())
    samples = []
    for i in range(count):
        started = time.perf_counter()
        response = session.post(f"{base_url}/functions/{function_id}/rollback", json={"version": 1 + i % 2})
        if response.status_code != 200:
            raise BenchError(f"POST /rollback answered {response.status_code}: {response.text[:500]}")
        wait_ready(session, base_url, function_id, response.json())
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _wall(record: dict) -> float:
    """Seconds since the epoch of a log record's `ts` (UTC, millisecond precision)."""
    parsed = datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(parsed.timetuple()) + parsed.microsecond / 1e6


def stage_breakdown(stack: Stack, timings: dict[str, tuple[float, float]]) -> dict[str, float]:
    """p50 per stage in ms from the processes' logs; timings maps id → (POST wall, READY-seen wall)."""

    def by_function(process: str, event: str) -> dict[str, dict]:
        return {r["functionId"]: r for r in stack.log_events(process, event) if "functionId" in r}

    received = by_function("compiler", "job.received")
    compiled = by_function("compiler", "job.compiled")
    published = by_function("compiler", "result.published")
    applied = by_function("consumer", "compilation.result.applied")
    stages: dict[str, list[float]] = {
        "post_to_job_received_ms": [],
        "compile_ms": [],
        "result_published_to_applied_ms": [],
        "applied_to_ready_seen_ms": [],
    }
    for fid, (posted, seen) in timings.items():
        if not all(fid in d for d in (received, compiled, published, applied)):
            continue
        stages["post_to_job_received_ms"].append((_wall(received[fid]) - posted) * 1000)
        stages["compile_ms"].append(float(compiled[fid]["durationMs"]))
        stages["result_published_to_applied_ms"].append((_wall(applied[fid]) - _wall(published[fid])) * 1000)
        stages["applied_to_ready_seen_ms"].append((seen - _wall(applied[fid])) * 1000)
    return {name: round(p50(values), 1) for name, values in stages.items() if values}


def run(*, registrations: int = DEFAULT_REGISTRATIONS, database_url: str | None = None) -> list[dict]:
    """Measure and print register_to_ready_p50_ms, _p95_ms, asc_cli_ms, ratio_vs_asc_cli and rollbacks."""
    if registrations < 1:
        raise BenchError("registrations must be at least 1")
    run_tag = uuid.uuid4().hex[:8]
    samples: list[float] = []
    timings: dict[str, tuple[float, float]] = {}
    with (
        Stack(
            processes=("web", "compiler", "consumer"), database_url=database_url or env_database_url()
        ) as stack,
        requests.Session() as session,
    ):
        register_and_wait(session, stack.base_url, f"bench-{run_tag}-warmup", sample_source(10_000))
        for i in range(registrations):
            started = time.perf_counter()
            fid, posted = register_and_wait(session, stack.base_url, f"bench-{run_tag}-{i}", sample_source(i))
            samples.append((time.perf_counter() - started) * 1000)
            timings[fid] = (posted, time.time())
        rollbacks = measure_rollbacks(session, stack.base_url, fid, registrations)
        # Give the log writers a moment to flush the last lines before reading them.
        time.sleep(0.2)
        stages = stage_breakdown(stack, timings)
    # A fresh CLI's time varies with the machine's load: the median of several runs.
    cli_runs = [measure_asc_cli_ms(sample_source(20_000 + n), PROJECT_ROOT) for n in range(ASC_CLI_RUNS)]
    asc_cli_ms = p50(cli_runs)
    median = p50(samples)
    return [
        emit(
            BENCH, "register_to_ready_p50_ms", median, "ms", n=len(samples), goal="<= 300", stages_p50=stages
        ),
        emit(BENCH, "register_to_ready_p95_ms", p95(samples), "ms", n=len(samples)),
        emit(BENCH, "asc_cli_ms", asc_cli_ms, "ms", runs=len(cli_runs), statistic="median"),
        emit(BENCH, "ratio_vs_asc_cli", median / asc_cli_ms, "ratio"),
        emit(BENCH, "rollback_to_ready_p50_ms", p50(rollbacks), "ms", n=len(rollbacks), goal="<= 50"),
        emit(BENCH, "rollback_vs_register_ratio", p50(rollbacks) / median, "ratio"),
    ]
