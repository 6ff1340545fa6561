"""The misfire rule and cron arithmetic of the scheduler (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler import ticks

B = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a minute boundary


def test_a_tick_due_within_the_grace_fires_once():
    decision = ticks.decide("* * * * *", "UTC", B - timedelta(seconds=30), B + timedelta(seconds=10), 60)
    assert decision == ticks.Decision(fire=B, missed=0, cursor=B)


def test_several_missed_ticks_fire_only_the_newest_and_count_the_rest():
    decision = ticks.decide("* * * * *", "UTC", B - timedelta(minutes=3), B + timedelta(seconds=10), 60)
    assert decision.fire == B and decision.missed == 2 and decision.cursor == B


def test_ticks_older_than_the_grace_are_skipped_and_counted():
    decision = ticks.decide("* * * * *", "UTC", B - timedelta(minutes=3), B + timedelta(seconds=10), 5)
    assert decision.fire is None and decision.missed == 3 and decision.cursor == B


def test_nothing_due_before_the_next_tick():
    assert ticks.decide("*/5 * * * *", "UTC", B, B + timedelta(minutes=4), 60).cursor is None


def test_timezone_moves_the_tick():
    paris = ticks.next_tick("0 9 * * *", "Europe/Paris", datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    assert paris == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "cron", ["*/5 * * * *", "0-30/10 9-17 * * mon-fri", "0,15,30,45 * * * *", "0 0 1 jan *"]
)
def test_valid_expressions(cron):
    assert ticks.next_tick(cron, "UTC", B) > B


@pytest.mark.parametrize(
    ("cron", "names"),
    [("* * * *", "5 fields"), ("61 * * * *", "61"), ("* 25 * * *", "25"), ("@hourly", "5 fields")],
)
def test_invalid_expressions_say_why(cron, names):
    with pytest.raises(ticks.InvalidSchedule, match=names):
        ticks.trigger(cron, "UTC")


def test_unknown_timezone():
    with pytest.raises(ticks.InvalidSchedule, match="Mars/Olympus"):
        ticks.zone("Mars/Olympus")
