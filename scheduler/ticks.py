"""Cron arithmetic (APScheduler's CronTrigger) and the misfire rule; pure logic, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

# Never look back further than this for missed ticks (a scheduler down for a month counts at
# most this many, and computing them stays cheap).
MAX_TICKS_COUNTED = 10_000


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
