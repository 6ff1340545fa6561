"""Benchmark output rules: a goal says whether it was met; bench-compare pairs rounds and ratios."""

from __future__ import annotations

import io
import json
from collections import defaultdict

import pytest

from bench.compare import REF, THIS, Figures, collect, order, summarise
from bench.report import emit, goal_met


@pytest.mark.parametrize(
    ("value", "goal", "met"),
    [
        (3.0, "<= 3", True),
        (3.01, "<= 3", False),
        (0.8, ">= 0.8", True),
        (0.79, ">= 0.8", False),
        (5, "< 5", False),
        (5.5, "> 5", True),
    ],
)
def test_goal_met_compares_the_value_with_the_bound(value, goal, met):
    assert goal_met(value, goal) is met


def test_a_goal_that_is_not_a_comparison_is_refused():
    with pytest.raises(ValueError, match="goal"):
        goal_met(1.0, "fast enough")


def test_a_line_with_a_goal_prints_met_and_one_without_does_not():
    out = io.StringIO()
    emit("b", "with_goal", 120.0, "ms", goal="<= 100", out=out)
    emit("b", "without", 1.0, "ms", out=out)
    with_goal, without = (json.loads(line) for line in out.getvalue().splitlines())
    assert with_goal["met"] is False
    assert "met" not in without


def test_runs_alternate_abba_so_drift_weighs_on_both_sides():
    assert order(3) == [THIS, REF, REF, THIS, THIS, REF]


def test_summary_pairs_rounds_and_takes_the_median_ratio():
    figures = defaultdict(Figures)
    for this_value, ref_value in [(10.0, 5.0), (12.0, 6.0), (30.0, 10.0)]:
        collect(figures, THIS, [{"bench": "b", "metric": "m", "value": this_value, "unit": "ms"}])
        collect(figures, REF, [{"bench": "b", "metric": "m", "value": ref_value, "unit": "ms"}])
    errors = collect(figures, REF, [{"bench": "x", "error": "boom"}])

    (row,) = summarise(figures)
    assert row["ratio"] == 2.0  # per-round ratios 2, 2, 3
    assert (row["this"], row["ref"], row["unit"]) == (12.0, 6.0, "ms")
    assert errors == [{"bench": "x", "error": "boom"}]
