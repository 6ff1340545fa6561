"""`python -m bench.compare REF [NAME...] [--rounds N]`: this tree's benches against another commit's.

The other commit is checked out in a temporary git worktree that shares this tree's built
dependencies (.venv, node_modules, the Python runtime, the console bundle). The chosen benches
(all when none are named) then run alternately on both trees, ABBA order (this, ref, ref, this,
...), so that a machine getting busier or quieter over time weighs on both sides alike. Each
figure prints one JSON line: both sides' medians and the median of the per-round ratios
(this / ref). On a shared, noisy machine read a ratio within a few per cent of 1 as "no change".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Built, not versioned: the other tree borrows this tree's copies.
SHARED_BUILDS = (".venv", "node_modules", ".cache/python-runtime", "web/console/static/build")
THIS = "this"
REF = "ref"

log = logging.getLogger("bench.compare")


@dataclass(kw_only=True, slots=True)
class Figures:
    """Every value a (bench, metric) printed, per side, in round order."""

    unit: str = ""
    values: dict[str, list[float]] = field(default_factory=lambda: {THIS: [], REF: []})


def resolve(ref: str, repo: Path = PROJECT_ROOT) -> str:
    """The full commit id of ref (a commit, branch or tag)."""
    return _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def ref_worktree(commit: str, repo: Path = PROJECT_ROOT) -> Iterator[Path]:
    """Check commit out in a temporary worktree with this tree's built dependencies linked in."""
    parent = Path(tempfile.mkdtemp(prefix="pnil-bench-ref-"))
    tree = parent / commit[:12]
    _git(repo, "worktree", "add", "--detach", str(tree), commit)
    try:
        for relative in SHARED_BUILDS:
            source = (repo / relative).resolve()
            if source.exists() and not (tree / relative).exists():
                (tree / relative).parent.mkdir(parents=True, exist_ok=True)
                (tree / relative).symlink_to(source)
        yield tree
    finally:
        _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(parent, ignore_errors=True)


def order(rounds: int) -> list[str]:
    """ABBA: this, ref, ref, this, this, ref, ... (2 * rounds runs)."""
    sides = []
    for i in range(rounds):
        sides += [THIS, REF] if i % 2 == 0 else [REF, THIS]
    return sides


def run_benches(tree: Path, names: Sequence[str]) -> list[dict]:
    """Run `python -m bench NAMES` in tree (its own code on PYTHONPATH); its JSON lines."""
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'client'}"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", *names], cwd=tree, env=env, stdout=subprocess.PIPE, text=True
    )
    if done.returncode != 0 and not done.stdout.strip():
        return [{"bench": " ".join(names) or "all", "error": f"python -m bench exited {done.returncode}"}]
    lines = []
    for raw in done.stdout.splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            log.warning("not a bench line from %s: %s", tree, raw[:200])
    return lines


def collect(figures: dict[tuple[str, str], Figures], side: str, lines: Sequence[dict]) -> list[dict]:
    """Add one run's metric lines to figures; return its error lines."""
    errors = []
    for line in lines:
        if "error" in line:
            errors.append(line)
            continue
        figure = figures[(line["bench"], line["metric"])]
        figure.unit = line.get("unit", figure.unit)
        figure.values[side].append(float(line["value"]))
    return errors


def summarise(figures: dict[tuple[str, str], Figures]) -> list[dict]:
    """One row per figure: both medians and the median of the per-round ratios this/ref."""
    rows = []
    for (bench, metric), figure in figures.items():
        mine, theirs = figure.values[THIS], figure.values[REF]
        pairs = [(a, b) for a, b in zip(mine, theirs, strict=False) if b != 0]
        rows.append(
            {
                "bench": bench,
                "metric": metric,
                "unit": figure.unit,
                "this": statistics.median(mine) if mine else None,
                "ref": statistics.median(theirs) if theirs else None,
                "ratio": round(statistics.median(a / b for a, b in pairs), 3) if pairs else None,
                "per_round": [[a, b] for a, b in zip(mine, theirs, strict=False)],
            }
        )
    return rows


def compare(ref: str, names: Sequence[str], rounds: int) -> int:
    """Run names alternately on this tree and on ref; print each figure's ratio; 1 if any run failed."""
    commit = resolve(ref)
    figures: dict[tuple[str, str], Figures] = defaultdict(Figures)
    failed = False
    with ref_worktree(commit) as other:
        trees = {THIS: PROJECT_ROOT, REF: other}
        for i, side in enumerate(order(rounds)):
            log.info("run %d/%d: %s (%s)", i + 1, 2 * rounds, side, trees[side])
            for error in collect(figures, side, run_benches(trees[side], names)):
                failed = True
                log.error("%s tree: bench %s failed: %s", side, error["bench"], error["error"])
    for row in summarise(figures):
        print(json.dumps({**row, "ref_commit": commit[:12]}), flush=True)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and compare."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("ref", help="the commit to compare this tree against (e.g. main, 398bc15)")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per side (default 3)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    return compare(args.ref, args.names, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
