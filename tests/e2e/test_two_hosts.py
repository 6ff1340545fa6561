"""Two hosts (two complete Procfile process sets, each with its own port, metrics directory and
runner pools) on one PostgreSQL: work crosses hosts (retries and workflow hand-overs included),
limits and ticks hold across both, each host keeps to its connection budget, and a host killed
outright leaves the other carrying on, retrying what its policy says and running nothing twice."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta

import psycopg
import pytest

from infra.budget import Host as HostShape
from infra.budget import budget
from infra.settings import Settings
from tests.conftest import throwaway_database
from tests.e2e.hosts import PROCESSES, WEB_CONCURRENCY, Host, wait_until

pytestmark = pytest.mark.slow

ECHO = "function handle(input) { return input; }"
# Busy for input.ms milliseconds (a sandbox's clock), then returns.
BUSY = "function handle(input) { const t = Date.now(); while (Date.now() - t < input.ms) {} return {}; }"
SPIN = "function handle(input) { while (true) {} }"
# Fails its first attempt at once; later attempts succeed.
FAIL_FIRST = (
    "function handle(input, context) { if (context.attempt === 1) throw new Error('first attempt fails');"
    " return {attempt: context.attempt}; }"
)
# Spins on its first attempt (until its host dies); later attempts succeed.
SPIN_FIRST = (
    "function handle(input, context) { if (context.attempt === 1) { while (true) {} }"
    " return {attempt: context.attempt}; }"
)
# With input.hold: waits until the KV key it names exists (polled every 100 ms); returns its input.
GATED = (
    "function handle(input) { if (input.hold) { while (pnil.kv.get(input.hold) === null) {"
    " const t = Date.now(); while (Date.now() - t < 100) {} } } return input; }"
)
HOST_ENV = {"PNIL_SCHEDULER_SPEED": "60", "PNIL_SWEEP_EVERY_S": "1", "PNIL_METRICS_PUBLIC": "1"}


@pytest.fixture(scope="module")
def hosts(server_url, template_url):
    with throwaway_database(server_url, prefix="hosts") as url:
        # application_name in DATABASE_URL labels a host's connections: pnil-web@a, pnil-web@b, ...
        a, b = Host("a", labelled(url, "a"), **HOST_ENV), Host("b", labelled(url, "b"), **HOST_ENV)
        try:
            a.start(), b.start()
            a.wait_ready(), b.wait_ready()
            yield a, b, url
        finally:
            for host in (a, b):
                host.terminate()
            for host in (a, b):
                host.stop()


def labelled(url: str, label: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={label}"


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
    assert a.call("POST", f"/functions/{fn['id']}/state", {"state": "PAUSED"})[0] == 200  # quiet from now on


def test_an_event_posted_to_one_host_is_dispatched_once(hosts):
    a, b, url = hosts
    fn = register(b, type="EVENT", eventTypes=["two-hosts.ping"])
    status, posted = a.call("POST", "/events", {"type": "two-hosts.ping", "payload": {"n": 1}})
    assert status == 202
    wait_until(lambda: executions(url, fn["id"]), 30, "the event's execution")
    time.sleep(1.5)  # both executors had time to dispatch it a second time, if they were to
    rows = executions(url, fn["id"])
    assert [r["trigger_data"]["eventId"] for r in rows] == [posted["id"]]


def attempts(url: str, first_attempt_id: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT id::text, status, attempt, retried, error_message FROM executions "
            "WHERE COALESCE(first_attempt_id, id) = %s ORDER BY attempt",
            (first_attempt_id,),
        ).fetchall()


def steps(url: str, run_id: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT id::text, function_id::text, status, attempt, error_message FROM executions "
            "WHERE workflow_run_id = %s ORDER BY created_at, attempt",
            (run_id,),
        ).fetchall()


def due_now(url: str, execution_id: str) -> None:
    """Fast-forward a delayed execution: due now, its queue message visible now."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE executions SET scheduled_for = clock_timestamp() WHERE id = %s", (execution_id,))
        conn.execute(
            "SELECT pgmq.set_vt('executions', msg_id, 0) FROM pgmq.q_executions "
            "WHERE message->>'executionId' = %s",
            (execution_id,),
        )


def started_once_on(a: Host, b: Host, execution_id: str) -> str:
    """The host that started the execution; it started exactly once, on one host."""
    counts = {"a": a.started(execution_id), "b": b.started(execution_id)}
    assert sorted(counts.values()) == [0, 1], (execution_id, counts)
    return "a" if counts["a"] else "b"


def test_an_attempt_that_failed_on_one_host_is_retried_on_the_other(hosts):
    a, b, url = hosts
    fn = register(a, FAIL_FIRST, retryPolicy={"maxAttempts": 2, "initialDelayMs": 300000, "jitter": False})
    b.pause("executor")  # the first attempt can only run on a
    try:
        status, first = a.call("POST", f"/functions/{fn['id']}/executions", {"input": {}})
        assert status == 202, first
        chain = wait_until(lambda: len(rows := attempts(url, first["id"])) == 2 and rows, 60, "the retry")
        a.pause("executor")  # the retry can only run on b
    finally:
        b.resume("executor")
    try:
        due_now(url, chain[1]["id"])  # instead of waiting out its 300 s delay
        wait_until(lambda: attempts(url, first["id"])[1]["status"] == "COMPLETED", 60, "the retry ran")
    finally:
        a.resume("executor")

    chain = attempts(url, first["id"])
    assert [(r["attempt"], r["status"], r["retried"]) for r in chain] == [
        (1, "FAILED", True),
        (2, "COMPLETED", False),
    ], chain
    assert [started_once_on(a, b, r["id"]) for r in chain] == ["a", "b"]
    assert b.call("GET", f"/executions/{chain[1]['id']}")[1]["output"] == {"attempt": 2}


def test_a_chord_whose_steps_run_on_both_hosts_runs_each_step_and_its_join_once(hosts):
    a, b, url = hosts
    echo = register(a)
    gated = register(
        a,
        GATED,
        resourceLimits={"maxConcurrentRuns": 1, "maxApiCallsPerMinute": 5000, "maxExecutionTimeMs": 60000},
    )
    key = f"open-{uuid.uuid4().hex[:8]}"
    answer = {}
    # A sync execute on a's web holds the gated function's only slot until the key exists.
    blocker = threading.Thread(
        target=lambda: answer.update(
            r=a.call("POST", f"/functions/{gated['id']}/execute", {"input": {"hold": key}})
        )
    )
    b.pause("executor")
    try:
        blocker.start()
        wait_until(lambda: executions(url, gated["id"]), 30, "the blocker running")
        canvas = {
            "chord": {
                "group": [{"function": echo["id"]}, {"function": gated["id"]}],
                "then": {"function": echo["id"]},
            }
        }
        status, run = a.call("POST", "/workflows/runs", {"input": {"n": 1}, "steps": canvas})
        assert status == 202, run
        # The echo member runs on a; the gated member waits for the slot the blocker holds.
        wait_until(
            lambda: [
                s
                for s in steps(url, run["id"])
                if s["function_id"] == echo["id"] and s["status"] == "COMPLETED"
            ],
            60,
            "the echo member on a",
        )
        a.pause("executor")  # from here on only b's executor runs steps
    finally:
        b.resume("executor")
    try:
        assert a.call("PUT", f"/kv/{key}", {"value": True})[0] in (200, 201)
        blocker.join(60)
        done = wait_until(
            lambda: (
                (r := a.call("GET", f"/workflows/runs/{run['id']}")[1])["status"] in ("COMPLETED", "FAILED")
                and r
            ),
            60,
            "the run ended",
        )
    finally:
        a.resume("executor")

    assert answer["r"][1]["status"] == "COMPLETED", answer
    assert (done["status"], done["output"]) == ("COMPLETED", [{"n": 1}, {"n": 1}]), done
    rows = steps(url, run["id"])
    assert len(rows) == 3 and {r["status"] for r in rows} == {"COMPLETED"}, rows
    member, then = (r for r in rows if r["function_id"] == echo["id"])  # the join comes after the group
    (gated_member,) = (r for r in rows if r["function_id"] == gated["id"])
    assert [started_once_on(a, b, r["id"]) for r in (member, gated_member, then)] == ["a", "b", "b"]


def held_connections(url: str) -> dict[str, Counter]:
    """Connections to the database per host label, per process (pnil-web@a → a: pnil-web)."""
    with psycopg.connect(url) as conn:
        names = conn.execute(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE 'pnil-%%@%%'"
        ).fetchall()
    held: dict[str, Counter] = {}
    for (name,) in names:
        process, _, label = name.partition("@")
        held.setdefault(label, Counter())[process] += 1
    return held


def test_each_host_keeps_to_its_connection_budget_through_a_burst_of_work(hosts):
    a, b, url = hosts
    allowed = budget(Settings(database_url=url), HostShape(web_workers=WEB_CONCURRENCY))  # the hosts'
    peak = {"a": Counter(), "b": Counter()}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for label, held in held_connections(url).items():
                for process, count in held.items():
                    peak.setdefault(label, Counter())[process] = max(peak[label][process], count)
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        # Compiles on both hosts at once, a cron function firing every second, an event function.
        registering = [threading.Thread(target=register, args=(host, BUSY)) for host in (a, b, a, b)]
        for thread in registering:
            thread.start()
        busy = register(b, BUSY, resourceLimits={"maxConcurrentRuns": 40})
        cron = register(a, type="SCHEDULED", cronExpression="* * * * *")
        on_event = register(b, type="EVENT", eventTypes=["burst.ping"])
        # Sync executes from many callers on both hosts, queued executions and events meanwhile.
        callers = [
            threading.Thread(
                target=lambda h=host: [
                    h.call("POST", f"/functions/{busy['id']}/execute", {"input": {"ms": 30}})
                    for _ in range(3)
                ]
            )
            for host in (a, b) * 6
        ]
        for caller in callers:
            caller.start()
        queued = []
        for i in range(20):
            host = (a, b)[i % 2]
            queued.append(
                host.call("POST", f"/functions/{busy['id']}/executions", {"input": {"ms": 30}})[1]["id"]
            )
            assert host.call("POST", "/events", {"type": "burst.ping", "payload": {"i": i}})[0] == 202
        for thread in registering + callers:
            thread.join(120)
        wait_until(
            lambda: all(a.call("GET", f"/executions/{q}")[1]["status"] == "COMPLETED" for q in queued),
            120,
            "the queued executions",
        )
        wait_until(lambda: len(executions(url, on_event["id"])) == 20, 60, "the events' executions")
        wait_until(lambda: len(executions(url, cron["id"])) >= 3, 30, "cron ticks")
        a.call("POST", f"/functions/{cron['id']}/state", {"state": "PAUSED"})
        time.sleep(1)  # and a last look once the work is done
    finally:
        done.set()
        sampler.join(10)

    for label in ("a", "b"):
        assert set(peak[label]) == {f"pnil-{p}" for p in PROCESSES}, (
            peak
        )  # every connection names its process
        over = {p: (n, allowed[p]) for p, n in peak[label].items() if n > allowed[p]}
        assert over == {}, f"host {label}: most held vs budget: {dict(peak[label])} / {allowed}"


def call_quietly(host: Host, *args) -> None:
    """A request whose answer does not matter (its host may be killed meanwhile)."""
    try:
        host.call(*args)
    except OSError:
        pass


def test_killing_every_process_of_one_host_leaves_the_other_carrying_on(hosts):
    a, b, url = hosts
    spin = register(a, SPIN, resourceLimits={"maxExecutionTimeMs": 8000, "maxConcurrentRuns": 20})
    # Its lost first attempt is retried (retryLost), on b since a is gone.
    retry_lost = register(
        a,
        SPIN_FIRST,
        resourceLimits={"maxExecutionTimeMs": 60000},
        retryPolicy={"maxAttempts": 2, "retryLost": True, "initialDelayMs": 0},
    )
    echo_step = register(a)

    def running(function_id: str) -> int:
        return sum(r["status"] == "RUNNING" for r in executions(url, function_id))

    b.pause("executor")  # what is queued now runs on a (one at a time: each on its own thread)
    try:
        status, retried = a.call("POST", f"/functions/{retry_lost['id']}/executions", {"input": {}})
        assert status == 202, retried
        wait_until(lambda: running(retry_lost["id"]) == 1, 30, "the first attempt RUNNING on a")
        chain = {"chain": [{"function": retry_lost["id"]}, {"function": echo_step["id"]}]}
        status, run = a.call("POST", "/workflows/runs", {"input": {"w": 1}, "steps": chain})
        assert status == 202, run
        wait_until(lambda: running(retry_lost["id"]) == 2, 30, "the workflow's first step RUNNING on a")
        threading.Thread(
            target=call_quietly, args=(a, "POST", f"/functions/{spin['id']}/execute", {"input": {}})
        ).start()
        a.call("POST", f"/functions/{spin['id']}/executions", {"input": {}})
        # Runs in a's web and in a's executor.
        wait_until(lambda: running(spin["id"]) == 2, 30, "RUNNING")
    finally:
        b.resume("executor")
    for _ in range(2):  # these run on either host (one may start on a just before the kill)
        a.call("POST", f"/functions/{spin['id']}/executions", {"input": {}})
    running_ids = {r["id"] for r in executions(url, spin["id"]) if r["status"] == "RUNNING"}

    a.kill_everything()
    running_ids |= {r["id"] for r in executions(url, spin["id"]) if r["status"] == "RUNNING"}

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
    assert lost and {r["id"] for r in lost} <= running_ids, rows
    assert all("lost this execution" in r["error_message"] for r in lost)
    assert {r["status"] for r in rows} <= {"FAILED", "TIMEOUT"}, rows  # TIMEOUT: ran on b
    for r in rows:
        if r["status"] == "FAILED":  # lost: started on a, never on b (a kill -9 may have come
            # between its start and its log line, when it started just before the kill)
            assert b.started(str(r["id"])) == 0 and a.started(str(r["id"])) <= 1, r
        else:
            started_once_on(a, b, str(r["id"]))

    # The lost attempt with retryLost: failed by b's sweep, its retry ran on b, once.
    tries = wait_until(
        lambda: (t := attempts(url, retried["id"])) and t[-1]["status"] == "COMPLETED" and t, 60, "the retry"
    )
    assert [(t["attempt"], t["status"]) for t in tries] == [(1, "FAILED"), (2, "COMPLETED")], tries
    assert "lost this execution" in tries[0]["error_message"]
    assert [started_once_on(a, b, t["id"]) for t in tries] == ["a", "b"]
    # The workflow's lost step: retried on b, then the next step handed over once.
    done = wait_until(
        lambda: (
            (r := b.call("GET", f"/workflows/runs/{run['id']}")[1])["status"] in ("COMPLETED", "FAILED") and r
        ),
        60,
        "the workflow run ended",
    )
    assert (done["status"], done["output"]) == ("COMPLETED", {"attempt": 2}), done
    ran = steps(url, run["id"])
    assert [(s["function_id"], s["attempt"], s["status"]) for s in ran] == [
        (retry_lost["id"], 1, "FAILED"),
        (retry_lost["id"], 2, "COMPLETED"),
        (echo_step["id"], 1, "COMPLETED"),
    ], ran
    assert [started_once_on(a, b, s["id"]) for s in ran] == ["a", "b", "b"]
