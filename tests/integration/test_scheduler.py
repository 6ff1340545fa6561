"""SCHEDULED functions fire: once per tick across several schedulers, misfires, pause/resume, changes."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from infra.database import ForkSafePool
from scheduler.scheduler import Scheduler
from store.tenants import DEFAULT_TENANT_ID
from tests.integration.conftest import Processes, wait_for
from tests.integration.pipeline_helpers import admin_headers


def scheduled_function(db, cron="* * * * *", *, grace_s=60, status="READY") -> str:
    return db.execute(
        "INSERT INTO functions (tenant_id, name, language, source, status, wasm_binary, compile_error, "
        "trigger_type, cron_expression, misfire_grace_s) "
        "VALUES (%s, 'cron-' || gen_random_uuid(), 'javascript', 'x', %s, %s, %s, 'SCHEDULED', %s, %s) "
        "RETURNING id",
        (DEFAULT_TENANT_ID, status, b"x" if status == "READY" else None, None if status == "READY" else "x")
        + (cron, grace_s),
    ).fetchone()[0]


def cron_ticks(db, function_id) -> list[str]:
    rows = db.execute(
        "SELECT trigger_data->>'scheduledFor' FROM executions "
        "WHERE function_id = %s AND trigger_type = 'CRON' ORDER BY 1",
        (function_id,),
    ).fetchall()
    return [r[0] for r in rows]


def assert_every_tick_once(ticks: list[str], at_least: int) -> None:
    assert len(ticks) >= at_least, ticks
    assert not [t for t, n in Counter(ticks).items() if n > 1], f"duplicate ticks: {ticks}"
    times = [datetime.fromisoformat(t) for t in ticks]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b - a != timedelta(minutes=1)]
    assert not gaps, f"missing ticks between {ticks}"


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def start_scheduler(database_url):
    """Factory: run a Scheduler in a thread on a manual clock; stopped after the test."""
    started = []

    def start(clock) -> Scheduler:
        scheduler = Scheduler(ForkSafePool(database_url, max_size=4), clock=clock, sleep_cap_s=0.02)
        thread = threading.Thread(target=scheduler.run, daemon=True)
        thread.start()
        started.append((scheduler, thread))
        wait_for(lambda: scheduler.listening.is_set() and scheduler.entries is not None)
        time.sleep(0.2)
        return scheduler

    yield start
    for scheduler, thread in started:
        scheduler.stop()
        thread.join(10)
        scheduler.db.close()


def next_boundary(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + timedelta(minutes=1)


def live_schedulers(db) -> int:
    return db.execute("SELECT count(*) FROM schedulers").fetchone()[0]


def wait_for_ticks(db, functions, *, more: int) -> None:
    """Wait until every function got `more` ticks beyond those it has now."""
    now = {fid: len(cron_ticks(db, fid)) for fid in functions}
    wait_for(lambda: all(len(cron_ticks(db, fid)) >= now[fid] + more for fid in functions), timeout=60)


def test_three_schedulers_fire_each_tick_exactly_once(database_url, db):
    functions = [scheduled_function(db) for _ in range(5)]
    procs = Processes(database_url)
    procs.env["PNIL_SCHEDULER_SPEED"] = "60"  # a minute of cron time per second
    try:
        for i in range(3):
            procs.start("-m", "scheduler", name=f"scheduler{i}")
        # Once all three are live, three more ticks (a cron minute is a second here).
        wait_for(lambda: live_schedulers(db) == 3, timeout=60)
        wait_for_ticks(db, functions, more=3)
    finally:
        procs.stop_all()
    for fid in functions:
        assert_every_tick_once(cron_ticks(db, fid), at_least=3)
    kinds = db.execute("SELECT DISTINCT trigger_type, status FROM executions").fetchall()
    assert kinds == [("CRON", "PENDING")]


def test_killing_one_of_two_schedulers_loses_and_repeats_no_tick(database_url, db):
    functions = [scheduled_function(db) for _ in range(20)]
    procs = Processes(database_url)
    procs.env["PNIL_SCHEDULER_SPEED"] = "60"
    try:
        victim = procs.start("-m", "scheduler", name="victim")
        procs.start("-m", "scheduler", name="survivor")
        wait_for(lambda: live_schedulers(db) == 2, timeout=60)
        wait_for_ticks(db, functions, more=1)  # both fire a tick or more
        os.killpg(victim.pid, signal.SIGKILL)
        wait_for_ticks(db, functions, more=3)  # the survivor alone fires the next ones
    finally:
        procs.stop_all()
    for fid in functions:
        assert_every_tick_once(cron_ticks(db, fid), at_least=4)


def test_a_tick_missed_within_the_grace_fires_once_and_older_ones_are_counted(
    database_url, db, start_scheduler
):
    boundary = next_boundary(datetime.now(UTC) + timedelta(minutes=5))
    within = scheduled_function(db, grace_s=60)
    beyond = scheduled_function(db, grace_s=5)
    # Both were last handled three minutes and a bit ago; the scheduler starts 10 s after a tick.
    db.execute("UPDATE functions SET schedule_cursor = %s", (boundary - timedelta(minutes=3, seconds=-1),))

    start_scheduler(ManualClock(boundary + timedelta(seconds=10)))

    wait_for(lambda: cron_ticks(db, within), timeout=5)
    time.sleep(0.3)
    assert cron_ticks(db, within) == [boundary.isoformat()]
    assert cron_ticks(db, beyond) == []
    missed = dict(db.execute("SELECT id, missed_ticks FROM functions").fetchall())
    assert missed == {within: 2, beyond: 3}


def test_pause_stops_firing_resume_fires_from_the_next_tick_and_cron_changes_apply(
    database_url, db, start_scheduler
):
    boundary = next_boundary(datetime.now(UTC) + timedelta(minutes=5))
    fid = scheduled_function(db)
    db.execute("UPDATE functions SET schedule_cursor = %s", (boundary - timedelta(seconds=5),))
    clock = ManualClock(boundary - timedelta(seconds=5))
    scheduler = start_scheduler(clock)

    clock.now = boundary + timedelta(seconds=1)
    wait_for(lambda: cron_ticks(db, fid), timeout=5)

    db.execute("UPDATE functions SET state = 'PAUSED' WHERE id = %s", (fid,))
    wait_for(lambda: fid not in scheduler.entries, timeout=2)
    clock.now = boundary + timedelta(minutes=1, seconds=1)
    time.sleep(0.5)
    assert cron_ticks(db, fid) == [boundary.isoformat()]

    db.execute("UPDATE functions SET state = 'ACTIVE' WHERE id = %s", (fid,))
    wait_for(lambda: fid in scheduler.entries, timeout=2)
    clock.now = boundary + timedelta(minutes=2, seconds=1)
    wait_for(lambda: len(cron_ticks(db, fid)) == 2, timeout=5)
    assert cron_ticks(db, fid)[1] == (boundary + timedelta(minutes=2)).isoformat()  # not the paused minute

    db.execute("UPDATE functions SET cron_expression = '*/5 * * * *' WHERE id = %s", (fid,))
    wait_for(lambda: fid in scheduler.entries and scheduler.entries[fid].cron == "*/5 * * * *", timeout=2)


def test_a_function_not_ready_at_its_tick_gets_no_execution_and_the_skip_is_counted(db, start_scheduler):
    boundary = next_boundary(datetime.now(UTC) + timedelta(minutes=5))
    fid = scheduled_function(db, status="FAILED")
    db.execute(
        "UPDATE functions SET compile_error = 'x', schedule_cursor = %s", (boundary - timedelta(seconds=5),)
    )
    clock = ManualClock(boundary - timedelta(seconds=5))
    start_scheduler(clock)
    clock.now = boundary + timedelta(seconds=1)
    wait_for(lambda: db.execute("SELECT skipped_not_ready FROM functions").fetchone()[0] == 1, timeout=5)
    assert cron_ticks(db, fid) == []


def test_api_validates_schedules_and_shows_next_and_last_run(db, client):
    def create(**fields):
        body = {
            "name": f"c-{uuid.uuid4().hex[:8]}",
            "language": "javascript",
            "source": "function handle(i){return i}",
        }
        return client.post("/functions", json={**body, "type": "SCHEDULED", **fields})

    bad = create(cronExpression="61 * * * *")
    assert bad.status_code == 400 and "61" in str(bad.get_json()["errors"])
    tz = create(cronExpression="0 9 * * *", timezone="Mars/Olympus")
    assert tz.status_code == 400 and "Mars/Olympus" in str(tz.get_json()["errors"])
    ok = create(cronExpression="0 9 * * *", timezone="Europe/Paris", misfireGraceS=30).get_json()
    assert ok["timezone"] == "Europe/Paris" and ok["misfireGraceS"] == 30
    assert ok["lastRunAt"] is None and ok["missedTicks"] == 0
    next_run = datetime.fromisoformat(ok["nextRunAt"])
    assert next_run.astimezone(UTC).hour in (7, 8) and next_run > datetime.now(UTC)
    assert client.get("/admin/scheduler", headers=admin_headers(db)).status_code == 200


def test_admin_scheduler_lists_live_schedulers(db, start_scheduler, client):
    scheduled_function(db)
    scheduler = start_scheduler(ManualClock(datetime.now(UTC)))
    admin = admin_headers(db)
    live = wait_for(lambda: client.get("/admin/scheduler", headers=admin).get_json(), timeout=5)
    assert live[0]["name"] == scheduler.name and live[0]["functions"] == 1
