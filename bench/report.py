"""Benchmark output: one JSON object per line on stdout, and percentile helpers."""

from __future__ import annotations

import json
import math
import operator
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def emit(
    bench: str, metric: str, value: float, unit: str, *, out: TextIO | None = None, **extra: Any
) -> dict:
    """Print `{"bench", "metric", "value", "unit", ...extra}` as one JSON line and flush; return it.

    A line with a `goal` (e.g. `"<= 300"`) also says whether the value `met` it.
    """
    line = {"bench": bench, "metric": metric, "value": _round(value), "unit": unit, **extra}
    if "goal" in line:
        line["met"] = goal_met(line["value"], line["goal"])
    stream = sys.stdout if out is None else out
    stream.write(json.dumps(line) + "\n")
    stream.flush()
    return line


def emit_error(bench: str, error: str, *, out: TextIO | None = None) -> dict:
    """Print `{"bench", "error"}`: this benchmark could not run (it prints no metrics)."""
    line = {"bench": bench, "error": error}
    stream = sys.stdout if out is None else out
    stream.write(json.dumps(line) + "\n")
    stream.flush()
    return line


_COMPARISONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def goal_met(value: float, goal: str) -> bool:
    """Whether value meets a goal written `<op> <number>` (op one of <=, >=, <, >)."""
    op, _, bound = goal.strip().partition(" ")
    if op not in _COMPARISONS:
        raise ValueError(f"a goal is '<op> <number>' with op in {sorted(_COMPARISONS)}, got {goal!r}")
    return _COMPARISONS[op](value, float(bound))


def percentile(samples: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def p50(samples: Sequence[float]) -> float:
    """The median."""
    return percentile(samples, 50)


def p95(samples: Sequence[float]) -> float:
    """The 95th percentile."""
    return percentile(samples, 95)


def _round(value: float) -> float:
    # Three significant decimals are plenty for ms and msgs/s, and keep the lines readable.
    return round(float(value), 3)
