"""Cron arithmetic (APScheduler's CronTrigger) and the misfire rule; pure logic, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger

# Never look back further than this for missed ticks (a scheduler down for a month counts at
# most this many, and computing them stays cheap).
MAX_TICKS_COUNTED = 10_000
# The IANA names the API documents (its enum); ZoneInfo itself stays the check.
TIMEZONES = sorted(available_timezones())


def _cron_field(value: str) -> str:
    # `*` with an optional step (at most 6: the smallest field, the weekday, spans 0-6), or a list
    # of values: the part of what CronTrigger takes in which every expression is valid.
    return rf"(\*(/[1-6])?|{value}(,{value})*)"


# cronExpression as the OpenAPI document states it: minute hour day month weekday (the server
# also takes ranges, steps of ranges and names; the document states the subset that is always valid).
CRON_PATTERN = (
    "^"
    + " ".join(
        _cron_field(v)
        for v in ("[1-5]?[0-9]", "(1?[0-9]|2[0-3])", "([1-9]|[12][0-9]|3[01])", "([1-9]|1[0-2])", "[0-6]")
    )
    + "$"
)


class InvalidSchedule(ValueError):
    """A cron expression or timezone pnil cannot schedule; the message says which and why."""


def zone(name: str) -> ZoneInfo:
    """The IANA timezone named, or InvalidSchedule."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(
            f"unknown timezone {name!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from exc


@lru_cache(maxsize=65_536)
def trigger(cron: str, timezone: str) -> CronTrigger:
    """APScheduler's trigger for a 5-field crontab expression in a timezone."""
    if len(cron.split()) != 5:
        raise InvalidSchedule("cronExpression needs 5 fields: minute hour day month weekday")
    try:
        return CronTrigger.from_crontab(cron, timezone=zone(timezone))
    except ValueError as exc:
        raise InvalidSchedule(f"invalid cron expression {cron!r}: {exc}") from exc


@lru_cache(maxsize=65_536)
def next_tick(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The first tick strictly after `after` (cached: functions on one cron share their cursor)."""
    return trigger(cron, timezone).get_next_fire_time(after, after + timedelta(microseconds=1))


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about the ticks that came due since `cursor`."""

    fire: datetime | None  # the tick to fire, if any
    missed: int  # ticks skipped: older than the grace, or superseded by a later due tick
    cursor: datetime | None  # the newest due tick (the new cursor), None when nothing is due


@lru_cache(maxsize=4_096)
def decide(cron: str, timezone: str, cursor: datetime, now: datetime, grace_s: int) -> Decision:
    """Ticks in (cursor, now]: the newest fires if at most `grace_s` late; every other one is missed.

    Several missed ticks never fire in a burst: at most one fires.
    """
    ticks: list[datetime] = []
    t = next_tick(cron, timezone, cursor)
    while t is not None and t <= now and len(ticks) < MAX_TICKS_COUNTED:
        ticks.append(t)
        t = next_tick(cron, timezone, t)
    if not ticks:
        return Decision(fire=None, missed=0, cursor=None)
    newest = ticks[-1]
    if (now - newest).total_seconds() <= grace_s:
        return Decision(fire=newest, missed=len(ticks) - 1, cursor=newest)
    return Decision(fire=None, missed=len(ticks), cursor=newest)
