"""Execute-step benchmark: an AssemblyScript echo run through the subprocess pool.

Run: .venv/bin/python -m bench.runner_echo [--runs N] [--size N]   (prints JSON lines)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.report import emit
from runner.contract import Language, RunRequest, RunStatus
from runner.sandbox.pool import RunnerPool

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ECHO_SOURCE = PROJECT_ROOT / "tests" / "fixtures" / "assemblyscript" / "echo.ts"
ASC_FLAGS = ["--exportRuntime", "--runtime", "incremental", "--optimize"]
ECHO_INPUT = json.dumps({"user": "Zoë", "items": [1, 2, 3], "nested": {"ok": True}})


def compile_echo() -> bytes:
    """The echo fixture compiled by the real asc CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "echo.wasm"
        subprocess.run(
            [str(PROJECT_ROOT / "node_modules" / ".bin" / "asc"), str(ECHO_SOURCE)]
            + ["-o", str(out), *ASC_FLAGS],
            check=True,
            cwd=PROJECT_ROOT,
            capture_output=True,
        )
        return out.read_bytes()


def measure_runner_p50_ms(pool: RunnerPool, artifact: bytes, n: int = 2000) -> dict:
    """Sequential echo runs through ``pool``: p50/p90/p99 and mean wall time per run in ms."""
    request = RunRequest(language=Language.ASSEMBLYSCRIPT, artifact=artifact, input_json=ECHO_INPUT)
    for _ in range(min(50, n)):  # warm every module cache and code path first
        pool.run(request)
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        result = pool.run(request)
        samples.append((time.perf_counter() - started) * 1000.0)
        if result.status is not RunStatus.COMPLETED:
            raise RuntimeError(f"echo run failed: {result.error_message}")
    samples.sort()
    return {
        "p50_ms": samples[len(samples) // 2],
        "p90_ms": samples[int(len(samples) * 0.90)],
        "p99_ms": samples[int(len(samples) * 0.99)],
        "mean_ms": statistics.fmean(samples),
        "runs": n,
    }


def main() -> None:
    """Print the runner benchmark as JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m bench.runner_echo")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--size", type=int, default=2, help="subprocesses in the pool")
    args = parser.parse_args()
    artifact = compile_echo()
    with RunnerPool(args.size) as pool:
        stats = measure_runner_p50_ms(pool, artifact, args.runs)
    emit("execute", "runner_p50_ms", round(stats["p50_ms"], 4), "ms")
    for key in ("p90_ms", "p99_ms", "mean_ms"):
        emit("execute", "runner_" + key, round(stats[key], 4), "ms")


if __name__ == "__main__":
    main()
