"""Two hosts (two complete Procfile process sets, each with its own port, metrics directory and
runner pools) on one PostgreSQL: work crosses hosts, limits and ticks hold across both, and a host
killed outright leaves the other carrying on."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

import psycopg
import pytest

from tests.conftest import throwaway_database
from tests.e2e.hosts import Host, wait_until

pytestmark = pytest.mark.slow

ECHO = "function handle(input) { return input; }"
# Busy for input.ms milliseconds (a sandbox's clock), then returns.
BUSY = "function handle(input) { const t = Date.now(); while (Date.now() - t < input.ms) {} return {}; }"
SPIN = "function handle(input) { while (true) {} }"
HOST_ENV = {"PNIL_SCHEDULER_SPEED": "60", "PNIL_SWEEP_EVERY_S": "1", "PNIL_METRICS_PUBLIC": "1"}


@pytest.fixture(scope="module")
def hosts(server_url, template_url):
    with throwaway_database(server_url, prefix="hosts") as url:
        a, b = Host("a", url, **HOST_ENV), Host("b", url, **HOST_ENV)
        try:
            a.start(), b.start()
            a.wait_ready(), b.wait_ready()
            yield a, b, url
        finally:
            for host in (a, b):
                host.terminate()
            for host in (a, b):
                host.stop()


def register(host: Host, source: str = ECHO, **fields) -> dict:
    body = {"name": f"f-{uuid.uuid4().hex[:8]}", "language": "javascript", "source": source, **fields}
    status, fn = host.call("POST", "/functions", body)
    assert status == 201, fn
    return wait_until(
        lambda: (f := host.call("GET", f"/functions/{fn['id']}")[1])["status"] == "READY" and f, 60, "READY"
    )


def executions(url: str, function_id: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT id, status, trigger_type, trigger_data, started_at, completed_at, error_message "
            "FROM executions WHERE function_id = %s ORDER BY created_at",
            (function_id,),
        ).fetchall()


def completed_api_runs(host: Host) -> float:
    """pnil_executions_total for COMPLETED JavaScript API runs, as this host's /metrics says."""
    status, text = host.call("GET", "/metrics")
    assert status == 200, text
    pattern = r'pnil_executions_total\{[^}]*status="COMPLETED"[^}]*trigger="API"[^}]*\} (\S+)'
    return sum(float(v) for v in re.findall(pattern, text))


def most_at_once(rows: list[dict]) -> int:
    """The largest number of the executions' [started_at, completed_at) intervals that overlap."""
    edges = sorted([(r["started_at"], 1) for r in rows] + [(r["completed_at"], -1) for r in rows])
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def test_registered_on_one_executed_on_the_other_and_each_metrics_counts_its_own(hosts):
    a, b, _ = hosts
    fn = register(a)
    before = completed_api_runs(a), completed_api_runs(b)

    for i in range(2):
        assert a.call("POST", f"/functions/{fn['id']}/execute", {"input": {"on": "a", "i": i}})[0] == 200
    for i in range(3):
        status, run = b.call("POST", f"/functions/{fn['id']}/execute", {"input": {"on": "b", "i": i}})
        assert (status, run["status"], run["output"]) == (200, "COMPLETED", {"on": "b", "i": i})

    assert (completed_api_runs(a) - before[0], completed_api_runs(b) - before[1]) == (2, 3)


def test_cancel_from_one_host_an_execution_running_on_the_other(hosts):
    a, b, url = hosts
    fn = register(a, SPIN, resourceLimits={"maxExecutionTimeMs": 60000})
    answer = {}
    caller = threading.Thread(
        target=lambda: answer.update(r=b.call("POST", f"/functions/{fn['id']}/execute", {"input": {}}))
    )
    caller.start()
    running = wait_until(
        lambda: [r for r in executions(url, fn["id"]) if r["status"] == "RUNNING"], 30, "RUNNING on b"
    )
    status, cancelled = a.call("POST", f"/executions/{running[0]['id']}/cancel")
    caller.join(30)
    assert (status, cancelled["status"]) == (200, "CANCELLED"), cancelled
    assert answer["r"][0] == 200 and answer["r"][1]["status"] == "CANCELLED", answer


def test_max_concurrent_runs_holds_across_both_hosts(hosts):
    a, b, url = hosts
    fn = register(a, BUSY, resourceLimits={"maxConcurrentRuns": 2})
    callers = [
        threading.Thread(
            target=host.call, args=("POST", f"/functions/{fn['id']}/execute", {"input": {"ms": 300}})
        )
        for host in (a, b, a, b, a, b)
    ]
    for caller in callers:
        caller.start()
    for host in (a, b):  # queued ones too: both executors compete for the same two slots
        for _ in range(3):
            assert host.call("POST", f"/functions/{fn['id']}/executions", {"input": {"ms": 300}})[0] == 202
    for caller in callers:
        caller.join(60)
    rows = wait_until(
        lambda: (rows := executions(url, fn["id"])) and all(r["completed_at"] for r in rows) and rows,
        60,
        "every execution finished",
    )
    assert len(rows) == 12 and {r["status"] for r in rows} == {"COMPLETED"}, rows
    assert most_at_once(rows) <= 2


def test_each_cron_tick_fires_once_with_both_schedulers(hosts):
    a, _, url = hosts
    fn = register(a, type="SCHEDULED", cronExpression="* * * * *")
    wait_until(lambda: len(executions(url, fn["id"])) >= 4, 30, "four ticks")
    ticks = [datetime.fromisoformat(r["trigger_data"]["scheduledFor"]) for r in executions(url, fn["id"])]
    assert not [t for t, n in Counter(ticks).items() if n > 1], f"a tick fired twice: {ticks}"
    ticks.sort()
    assert all(
        later - earlier == timedelta(minutes=1) for earlier, later in zip(ticks, ticks[1:], strict=False)
    )


def test_an_event_posted_to_one_host_is_dispatched_once(hosts):
    a, b, url = hosts
    fn = register(b, type="EVENT", eventTypes=["two-hosts.ping"])
    status, posted = a.call("POST", "/events", {"type": "two-hosts.ping", "payload": {"n": 1}})
    assert status == 202
    wait_until(lambda: executions(url, fn["id"]), 30, "the event's execution")
    time.sleep(1.5)  # both executors had time to dispatch it a second time, if they were to
    rows = executions(url, fn["id"])
    assert [r["trigger_data"]["eventId"] for r in rows] == [posted["id"]]


def call_quietly(host: Host, *args) -> None:
    """A request whose answer does not matter (its host may be killed meanwhile)."""
    try:
        host.call(*args)
    except OSError:
        pass


def test_killing_every_process_of_one_host_leaves_the_other_carrying_on(hosts):
    a, b, url = hosts
    spin = register(a, SPIN, resourceLimits={"maxExecutionTimeMs": 8000, "maxConcurrentRuns": 20})
    threading.Thread(
        target=call_quietly, args=(a, "POST", f"/functions/{spin['id']}/execute", {"input": {}})
    ).start()
    for _ in range(4):
        a.call("POST", f"/functions/{spin['id']}/executions", {"input": {}})
    # Runs in a's web and in either host's executor.
    wait_until(lambda: sum(r["status"] == "RUNNING" for r in executions(url, spin["id"])) >= 3, 30, "RUNNING")
    running = {r["id"] for r in executions(url, spin["id"]) if r["status"] == "RUNNING"}

    a.kill_everything()

    # b carries on: it serves, compiles and runs queued work.
    echo = register(b, name="after-the-kill")
    assert b.call("POST", f"/functions/{echo['id']}/execute", {"input": {"x": 1}})[1]["output"] == {"x": 1}
    status, queued = b.call("POST", f"/functions/{echo['id']}/executions", {"input": {}})
    wait_until(lambda: b.call("GET", f"/executions/{queued['id']}")[1]["status"] == "COMPLETED", 30, "queued")
    # a's lost executions are failed by b's sweep, never run again; every other one ran once, on b.
    rows = wait_until(
        lambda: (rows := executions(url, spin["id"])) and all(r["completed_at"] for r in rows) and rows,
        60,
        "every execution ended",
    )
    lost = [r for r in rows if r["status"] == "FAILED"]
    assert lost and {r["id"] for r in lost} <= running, rows
    assert all("lost this execution" in r["error_message"] for r in lost)
    assert {r["status"] for r in rows} <= {"FAILED", "TIMEOUT"}, rows  # TIMEOUT: ran on b
