"""`python -m scheduler`: run one scheduler process (safe to run several; each tick fires once).

The setting PNIL_SCHEDULER_SPEED=N (tests and benchmarks only) runs the scheduler's clock N times faster than
real time from the moment it starts, so minutes of cron ticks pass in seconds.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from infra.database import ForkSafePool
from infra.embedded_postgres import resolve_database_url
from infra.logs import configure_logging
from infra.settings import Settings, log_format_from, log_level_from, scheduler_speed_from
from infra.stopping import StopSignals, run_until_stopped
from migrations import require_current_schema
from scheduler.scheduler import MAX_SLEEP_S, Scheduler, utc_now


def fast_clock(speed: float):
    """A clock that starts now and runs `speed` times faster than real time."""
    start, origin = datetime.now(UTC), time.monotonic()
    return lambda: start + timedelta(seconds=(time.monotonic() - origin) * speed)


def main() -> None:
    configure_logging("scheduler", log_level_from(os.environ), log_format_from(os.environ))
    settings = Settings.from_env({**os.environ, "DATABASE_URL": resolve_database_url()}).for_process(
        "scheduler"
    )
    require_current_schema(settings.database_url, "scheduler")
    speed = scheduler_speed_from(os.environ)
    clock = utc_now if speed == 1 else fast_clock(speed)
    db = ForkSafePool(
        settings.database_url,
        max_size=settings.scheduler_pool_size,
        name="scheduler",
        timeout_s=settings.db_timeout_s,
    )
    scheduler = Scheduler(
        db,
        clock=clock,
        # On a fast clock a tick comes every few real milliseconds: wake often.
        sleep_cap_s=MAX_SLEEP_S if speed == 1 else 0.05,
        resync_s=settings.scheduler_resync_s,
    )
    # The handler only sets a flag; stop() (it sets threading Events) runs in the main thread.
    run_until_stopped(scheduler.run, scheduler.stop, StopSignals().install())
    db.close()


if __name__ == "__main__":
    main()
