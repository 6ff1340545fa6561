"""A PostgreSQL restart under a running host: every process rides it out in place; and the
connections one host holds stay within its stated budget (infra/budget.py)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

import psycopg
import pytest

from infra.budget import Host as HostShape
from infra.budget import budget
from infra.settings import Settings
from tests.e2e.hosts import PROCESSES, WEB_CONCURRENCY, Host, wait_until

pytestmark = pytest.mark.slow

SPEED = 60  # the scheduler's clock: a minute of cron time per second
ECHO = "function handle(input) { return input; }"


@pytest.fixture(scope="module")
def host(own_server):
    url = own_server.database("pnil")
    host = Host("a", url, PNIL_SCHEDULER_SPEED=str(SPEED)).start()
    try:
        host.wait_ready()
        yield host, url
    finally:
        code = host.stop()
    assert code == 0, host.log()[-3000:]


def register(host: Host, *, retry_503: bool = False, **fields) -> dict:
    """Register and wait for READY; `retry_503`: after an outage, a request meeting a connection the
    restart broke answers 503 + Retry-After (each gunicorn worker's pool meets its own once)."""
    post = {"language": "javascript", "source": ECHO, **fields}

    def answered():
        reply = host.call("POST", "/functions", post)
        return None if retry_503 and reply[0] == 503 else reply

    status, fn = wait_until(answered, 30, "an answer other than 503")
    assert status == 201, fn
    return wait_until(
        lambda: (f := host.call("GET", f"/functions/{fn['id']}")[1])["status"] == "READY" and f,
        60,
        "READY",
    )


def queued_run_completes(host: Host, function_id: str) -> None:
    """Queue a run (retrying the documented 503 a connection broken by a restart answers) and
    wait for it to complete."""

    def answered():
        reply = host.call("POST", f"/functions/{function_id}/executions", {"input": {"q": 1}})
        return None if reply[0] == 503 else reply

    status, queued = wait_until(answered, 30, "an answer other than 503")
    assert status == 202, queued
    wait_until(
        lambda: host.call("GET", f"/executions/{queued['id']}")[1]["status"] == "COMPLETED", 60, "COMPLETED"
    )


def cron_ticks(url: str, function_id: str) -> list[datetime]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT trigger_data->>'scheduledFor' FROM executions "
            "WHERE function_id = %s AND trigger_type = 'CRON' ORDER BY 1",
            (function_id,),
        ).fetchall()
    return [datetime.fromisoformat(r[0]) for r in rows]


def connections(url: str) -> Counter:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return Counter(r[0] for r in rows)


def test_one_used_host_holds_no_more_connections_than_its_budget(host):
    host, url = host
    fn = register(host, name="budget")
    for _ in range(5):
        assert host.call("POST", f"/functions/{fn['id']}/execute", {"input": {}})[0] == 200
        queued_run_completes(host, fn["id"])
    time.sleep(1)

    held = connections(url)
    allowed = budget(Settings(database_url=url), HostShape(web_workers=WEB_CONCURRENCY))

    assert set(held) == set(allowed), held  # every connection names its process
    over = {name: (held[name], allowed[name]) for name in held if held[name] > allowed[name]}
    assert over == {}, f"held vs budget: {dict(held)} / {allowed}"


def test_every_process_rides_out_a_restart_and_a_tick_due_meanwhile_fires_once(host, own_server):
    host, url = host
    fn = register(host, name="before")
    cron = register(host, name="cron", type="SCHEDULED", cronExpression="* * * * *", misfireGraceS=3600)
    wait_until(lambda: len(cron_ticks(url, cron["id"])) >= 2, 30, "cron ticks before the outage")
    pids = host.pids()

    own_server.stop()
    time.sleep(3)  # three cron minutes pass in the scheduler's clock
    own_server.start()
    restarted = len(cron_ticks(url, cron["id"]))

    # The same processes serve again: web, compiler and consumer (register), executor (queued).
    wait_until(lambda: host.call("GET", "/health")[0] == 200, 60, "/health")
    # A request that meets a connection the restart broke answers 503 + Retry-After (and the
    # pool replaces its broken connections); the next one is served.
    executed = wait_until(
        lambda: (
            (r := host.call("POST", f"/functions/{fn['id']}/execute", {"input": {"x": 1}}))[0] == 200 and r
        ),
        30,
        "a sync execute",
    )
    assert executed[1]["output"] == {"x": 1}
    after = register(host, name="after", retry_503=True)
    queued_run_completes(host, after["id"])
    wait_until(lambda: len(cron_ticks(url, cron["id"])) >= restarted + 3, 60, "cron ticks after the outage")
    assert host.pids() == pids, host.log()[-3000:]
    assert set(pids) == set(PROCESSES) and all(len(p) == 1 for p in pids.values())

    ticks = cron_ticks(url, cron["id"])
    with psycopg.connect(url) as conn:
        missed = conn.execute("SELECT missed_ticks FROM functions WHERE id = %s", (cron["id"],)).fetchone()[0]
    assert len(set(ticks)) == len(ticks), f"a tick fired twice: {ticks}"
    # Every tick from the first to the last either fired once or was counted as missed: the
    # ones that came due while the database was down were not fired in a burst, the newest of
    # them fired once when it came back.
    span = int((ticks[-1] - ticks[0]) / timedelta(minutes=1)) + 1
    assert len(ticks) + missed == span, (ticks, missed)
    assert missed >= 1, ticks
    assert "scheduler.db_unavailable" in host.log()
