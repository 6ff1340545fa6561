"""bench "python": an add function in the shared CPython runtime, through the runner pool and over HTTP.

`runner_p50_ms`/`runner_p95_ms`: a fresh instance of the pre-initialised runtime + exec of the
source + the call, through an in-process RunnerPool of one subprocess (no HTTP, no database),
each run after 5 ms of idle time (spent spinning, not sleeping), in which the runner makes the
next run's instance, as between requests that arrive one by one; goal p95 <= 3 ms.
`back_to_back_runner_*`: the same without the idle time, so each run also waits for the
instance made after the previous one. The JavaScript echo through the same pool, back to back,
is the baseline of the same run (`back_to_back_vs_javascript_p50_ratio`).
`idle_runner_rss_mib`: the resident memory of that runner subprocess with the Python runtime
loaded, next to `baseline_runner_rss_mib` before it was.
`http_p50_ms`: sync `POST /functions/{id}/execute` one at a time against the real processes.

Run: python -m bench python
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from bench.execute_http import WEB_ENV, function_http_ms
from bench.javascript_runner import measure_js_runner
from bench.report import emit, p50, p95
from runner.contract import Language, RunRequest, RunStatus
from runner.sandbox.pool import RunnerPool

BENCH = "python"
ADD_SOURCE = "def handle(input, context=None):\n    return {'sum': input['a'] + input['b']}\n"
ADD_INPUT = {"a": 40, "b": 2}
# Idle time before each timed run: the runner makes the next run's instance while idle.
IDLE_GAP_S = 0.005


def measure_python_runner(pool: RunnerPool, n: int, *, gap_s: float = 0.0) -> list[float]:
    """Sequential add runs through the pool: wall time of each in ms; ``gap_s`` of idle time
    (not timed) before each run, as between requests that arrive one by one."""
    request = RunRequest(
        language=Language.PYTHON, artifact=ADD_SOURCE.encode(), input_json=json.dumps(ADD_INPUT)
    )
    for _ in range(min(50, n)):  # load the runtime and warm the code paths first
        pool.run(request)
    samples: list[float] = []
    for _ in range(n):
        if gap_s:
            _spin(gap_s)
        started = time.perf_counter()
        result = pool.run(request)
        samples.append((time.perf_counter() - started) * 1000.0)
        if result.status is not RunStatus.COMPLETED or json.loads(result.output_json or "") != {"sum": 42}:
            raise RuntimeError(f"add run failed: {result.status} {result.error_message}")
    return samples


def _spin(seconds: float) -> None:
    """Wait without sleeping: a sleeping CPU of this VM takes milliseconds to wake, which would be
    timed as the runner's."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def run(
    *,
    web_env: Mapping[str, str] | None = None,
    runner_runs: int = 1000,
    http_requests: int = 500,
    database_url: str | None = None,
) -> list[dict]:
    """Measure the pool (Python and the JavaScript baseline), then HTTP; emit every metric."""
    with RunnerPool(1) as pool:
        (pid,) = pool.pids()
        time.sleep(0.5)  # let the subprocess finish starting
        baseline_rss = rss_mib(pid)
        samples = measure_python_runner(pool, runner_runs, gap_s=IDLE_GAP_S)
        back_to_back = measure_python_runner(pool, runner_runs)
        idle_rss = rss_mib(pid)
        javascript = measure_js_runner(pool, runner_runs)
    body = json.dumps({"input": ADD_INPUT}).encode()
    env = WEB_ENV if web_env is None else web_env
    http_samples = function_http_ms(
        env, database_url, "bench-py-add", "python", ADD_SOURCE, body, http_requests
    )
    return [
        emit(BENCH, "runner_p50_ms", p50(samples), "ms", runs=len(samples)),
        emit(BENCH, "runner_p95_ms", p95(samples), "ms", runs=len(samples), goal="<= 3"),
        emit(BENCH, "back_to_back_runner_p50_ms", p50(back_to_back), "ms", runs=len(back_to_back)),
        emit(BENCH, "back_to_back_runner_p95_ms", p95(back_to_back), "ms", runs=len(back_to_back)),
        emit(BENCH, "javascript_runner_p50_ms", javascript["p50_ms"], "ms", runs=javascript["runs"]),
        emit(
            BENCH, "back_to_back_vs_javascript_p50_ratio", p50(back_to_back) / javascript["p50_ms"], "ratio"
        ),
        emit(BENCH, "idle_runner_rss_mib", idle_rss, "MiB"),
        emit(BENCH, "baseline_runner_rss_mib", baseline_rss, "MiB"),
        emit(BENCH, "http_p50_ms", p50(http_samples), "ms", runs=len(http_samples)),
        emit(BENCH, "http_p95_ms", p95(http_samples), "ms", runs=len(http_samples)),
    ]


if __name__ == "__main__":
    run()
