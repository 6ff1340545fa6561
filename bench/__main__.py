"""`python -m bench [NAME...]`: run the benchmarks of bench/ and print one JSON object per metric line.

A benchmark is a module of this package with a top-level `run()`; its name is its `BENCH`
constant (else the module name). Only JSON lines go to stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.report import emit_error
from infra.logs import configure_logging

BENCH_DIR = Path(__file__).resolve().parent
# Benchmarks run in this order (cheapest and most basic first); any others follow by name.
PREFERRED_ORDER = ("broker", "compile", "execute", "javascript")
# `scale` (make bench-scale), `queue_churn` and `partition_width` take minutes: run on their own.
NOT_BENCHMARKS = {
    "__init__",
    "__main__",
    "compare",
    "report",
    "stack",
    "scale",
    "queue_churn",
    "partition_width",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Benchmark:
    """A module of bench/ that exposes run()."""

    name: str
    module: str


def _declared(path: Path) -> Benchmark | None:
    # Read the source rather than import it: a broken module must not stop the others being listed.
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError):
        return Benchmark(name=path.stem, module=path.stem)  # listed, so that running it reports why
    has_run = any(isinstance(node, ast.FunctionDef) and node.name == "run" for node in tree.body)
    if not has_run:
        return None
    name = path.stem
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "BENCH" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            name = node.value.value
    return Benchmark(name=name, module=path.stem)


def discover(bench_dir: Path = BENCH_DIR) -> list[Benchmark]:
    """Every benchmark module in bench_dir, in PREFERRED_ORDER then by name."""
    found = [
        bench
        for path in sorted(bench_dir.glob("*.py"))
        if path.stem not in NOT_BENCHMARKS and (bench := _declared(path)) is not None
    ]

    def order(bench: Benchmark) -> tuple[int, str]:
        rank = PREFERRED_ORDER.index(bench.name) if bench.name in PREFERRED_ORDER else len(PREFERRED_ORDER)
        return rank, bench.name

    return sorted(found, key=order)


def run_one(bench: Benchmark) -> bool:
    """Import and run one benchmark; print an error line instead of metrics if it fails."""
    log = logging.getLogger("bench")
    try:
        module = importlib.import_module(f"bench.{bench.module}")
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the others
        log.exception("benchmark %s failed to import", bench.name)
        emit_error(bench.name, f"import of bench.{bench.module} failed: {type(exc).__name__}: {exc}")
        return False
    log.info("running benchmark %s (bench.%s)", bench.name, bench.module)
    try:
        module.run()
    except Exception as exc:  # noqa: BLE001
        log.exception("benchmark %s failed", bench.name)
        emit_error(bench.name, f"{type(exc).__name__}: {exc}")
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all when none are named); exit 1 if any failed."""
    available = discover()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(b.name for b in available)}"
    )
    args = parser.parse_args(argv)
    configure_logging("bench", "WARNING")
    logging.getLogger("bench").setLevel(logging.INFO)

    selected = available
    if args.names:
        unknown = [n for n in args.names if not any(n in (b.name, b.module) for b in available)]
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; available: {[b.name for b in available]}")
        selected = [b for b in available if b.name in args.names or b.module in args.names]
    results = [run_one(bench) for bench in selected]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
