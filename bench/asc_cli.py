"""Compile-step benchmark: a fresh `asc` CLI per job versus the warm compile server.

Run: .venv/bin/python -m bench.asc_cli [--runs N]   (prints one JSON line per metric)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from compiler.asc import AscCompiler

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASC_FLAGS = ["--exportRuntime", "--runtime", "incremental", "--optimize"]


def sample_source(n: int) -> str:
    """A small, distinct handler per run so no layer can cache the answer."""
    return (
        "export function handle(input: string): string {\n"
        f'  return input + "-{n}" + (input.length * {n}).toString();\n'
        "}\n"
    )


def measure_asc_cli_ms(source: str, project_root: Path) -> float:
    """Wall time in ms of one `asc` CLI compile of source: the cold per-job cost."""
    asc = Path(project_root) / "node_modules" / ".bin" / "asc"
    with tempfile.TemporaryDirectory(prefix="pnil-asc-bench-") as tmp:
        entry, out = Path(tmp) / "input.ts", Path(tmp) / "out.wasm"
        entry.write_text(source)
        started = time.perf_counter()
        subprocess.run(
            [str(asc), str(entry), "-o", str(out), *ASC_FLAGS],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=120,
        )
        elapsed = (time.perf_counter() - started) * 1000
        if not out.read_bytes().startswith(b"\0asm"):
            raise RuntimeError("asc CLI produced no wasm binary")
    return elapsed


def measure_warm_ms(compiler: AscCompiler, sources: Sequence[str]) -> list[float]:
    """Wall time in ms of each compile through an already started compiler."""
    timings = []
    for source in sources:
        started = time.perf_counter()
        compiler.compile(source)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _line(metric: str, value: float, **extra: object) -> str:
    return json.dumps({"bench": "compile", "metric": metric, "value": round(value, 1), **extra})


def main(argv: Sequence[str] | None = None) -> None:
    """Prints asc_cli_ms (median of fresh CLI runs) and asc_warm_p50_ms as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="CLI runs (default 3)")
    parser.add_argument("--warm-runs", type=int, default=20, help="warm compiles (default 20)")
    args = parser.parse_args(argv)

    cli = [measure_asc_cli_ms(sample_source(n), PROJECT_ROOT) for n in range(args.runs)]
    print(_line("asc_cli_ms", statistics.median(cli), unit="ms", runs=len(cli)), flush=True)

    with AscCompiler(project_root=PROJECT_ROOT) as compiler:
        started = time.perf_counter()
        compiler.start()
        startup_ms = (time.perf_counter() - started) * 1000
        warm = measure_warm_ms(compiler, [sample_source(n) for n in range(args.warm_runs)])
    quantiles = statistics.quantiles(warm, n=20) if len(warm) > 1 else warm * 19
    print(
        _line(
            "asc_warm_p50_ms",
            statistics.median(warm),
            unit="ms",
            runs=len(warm),
            p95_ms=round(quantiles[-1], 1),
            startup_ms=round(startup_ms, 1),
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
