"""Queued executions: async invoke, the executor process, cancel, maxConcurrentRuns cluster-wide."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.integration.api_fixtures import fresh_api as api
from tests.integration.conftest import Processes, wait_for
from tests.integration.execute_helpers import (
    execute,
    execute_retrying,
    expect_error,
    ready_function,
    running_api,
)

ECHO = "function handle(input) { return input; }"
LOOP = "function handle(input) { while (true) {} }"
# Busy for `ms` milliseconds of wall time, then answers.
SLOW = (
    "function handle(input) {"
    " const end = Date.now() + (input.ms || 300); while (Date.now() < end) {} return input; }"
)

__all__ = ["api"]  # fixture used below


@pytest.fixture
def db_url(api):
    return api.config["TEST_DATABASE_URL"]


@pytest.fixture
def workers(db_url):
    procs = Processes(db_url)
    procs.env["PNIL_SWEEP_EVERY_S"] = "0.5"
    yield procs
    procs.stop_all()


def start_executor(workers: Processes, concurrency: int = 4):
    return workers.worker("executions", "executor", "--concurrency", str(concurrency))


def submit(client, fid, input_value=None, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/functions/{fid}/executions", json={"input": input_value or {}}, headers=headers)


def wait_status(client, execution_id, statuses, timeout=30.0):
    def done():
        row = client.get(f"/executions/{execution_id}").get_json()
        return row if row["status"] in statuses else None

    return wait_for(done, timeout=timeout, interval=0.02)


FINAL = ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED")


def test_submit_answers_202_with_location_and_the_executor_completes_it(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    start_executor(workers)

    resp = submit(client, fid, {"n": 1})

    assert resp.status_code == 202, resp.get_json()
    queued = resp.get_json()
    assert queued["status"] == "PENDING" and queued["triggerType"] == "API"
    assert resp.headers["Location"] == f"/executions/{queued['id']}"
    done = wait_status(client, queued["id"], FINAL)
    assert done["status"] == "COMPLETED" and done["output"] == {"n": 1}
    assert done["queuedAt"] <= done["startedAt"] <= done["completedAt"]
    assert done["functionVersion"] == 1


def test_submit_answers_like_execute_for_bad_requests(api):
    client = api.test_client()
    expect_error(client.post("/functions/00000000-0000-0000-0000-000000000000/executions", json={}), 404)
    fid = ready_function(client, "javascript", ECHO)
    expect_error(client.post(f"/functions/{fid}/executions", json={"input": [1]}), 400)
    client.put(f"/functions/{fid}", json={"state": "PAUSED"})
    assert "PAUSED" in expect_error(submit(client, fid), 400)["message"]


def test_idempotency_key_returns_the_same_execution_and_refuses_another_body(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)

    first = submit(client, fid, {"a": 1}, key="order-42")
    repeat = submit(client, fid, {"a": 1}, key="order-42")
    other = submit(client, fid, {"a": 2}, key="order-42")

    assert first.status_code == 202 and repeat.status_code == 200
    assert repeat.get_json()["id"] == first.get_json()["id"]
    assert "order-42" in expect_error(other, 409)["message"]
    with psycopg.connect(api.config["TEST_DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM pgmq.q_executions").fetchone()[0] == 1


def test_cancel_pending_means_it_never_starts(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    queued = submit(client, fid).get_json()

    resp = client.post(f"/executions/{queued['id']}/cancel")

    assert resp.status_code == 200 and resp.get_json()["status"] == "CANCELLED"
    start_executor(workers)
    # A later execution of the same function completes: the cancelled one was read and dropped.
    later = submit(client, fid).get_json()
    assert wait_status(client, later["id"], FINAL)["status"] == "COMPLETED"
    row = client.get(f"/executions/{queued['id']}").get_json()
    assert row["status"] == "CANCELLED" and row["startedAt"] is None


def test_cancel_running_async_stops_the_sandbox_and_the_runner_serves_again(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", LOOP, {"maxExecutionTimeMs": 10_000})
    echo = ready_function(client, "javascript", ECHO)
    start_executor(workers, concurrency=2)
    queued = submit(client, fid).get_json()
    wait_status(client, queued["id"], ("RUNNING",))

    began = time.monotonic()
    resp = client.post(f"/executions/{queued['id']}/cancel")
    took = time.monotonic() - began

    assert resp.status_code == 200
    assert resp.get_json()["status"] == "CANCELLED", (resp.get_json(), took)
    again = submit(client, echo, {"after": "cancel"}).get_json()
    assert wait_status(client, again["id"], FINAL)["output"] == {"after": "cancel"}


def test_cancel_running_sync_answers_the_caller_cancelled(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", LOOP, {"maxExecutionTimeMs": 10_000})
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(lambda: api.test_client().post(f"/functions/{fid}/execute", json={"input": {}}))
        running = wait_for(
            lambda: client.get(f"/functions/{fid}/executions?status=RUNNING").get_json(), timeout=10
        )
        cancel = client.post(f"/executions/{running[0]['id']}/cancel")
        answer = call.result(timeout=10)
    assert cancel.status_code == 200 and cancel.get_json()["status"] == "CANCELLED"
    assert answer.status_code == 200 and answer.get_json()["status"] == "CANCELLED"
    assert execute(client, ready_function(client, "javascript", ECHO), {"x": 1})["output"] == {"x": 1}


def test_cancel_of_a_finished_execution_is_409_and_unknown_is_404(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    done = execute(client, fid)
    assert "COMPLETED" in expect_error(client.post(f"/executions/{done['id']}/cancel"), 409)["message"]
    expect_error(client.post("/executions/00000000-0000-0000-0000-000000000000/cancel"), 404)


def test_max_concurrent_runs_holds_across_sync_and_async_runs(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", SLOW, {"maxConcurrentRuns": 2})
    start_executor(workers, concurrency=4)
    url = api.config["TEST_DATABASE_URL"]

    queued = [submit(client, fid, {"ms": 300}).get_json()["id"] for _ in range(10)]
    with ThreadPoolExecutor(10) as pool:
        sync = list(pool.map(lambda _: execute_retrying(api.test_client(), fid, {"ms": 300}), range(10)))
    finished = [wait_status(client, eid, FINAL, timeout=60) for eid in queued]

    assert [r.status_code for r in sync] == [200] * 10
    assert all(r.get_json()["status"] == "COMPLETED" for r in sync)
    assert all(row["status"] == "COMPLETED" for row in finished)
    # Each run holds its slot from before its startedAt to after its completedAt (both set by the
    # statements that take and free it), so at most 2 of those spans ever overlap. (Sampling
    # RUNNING rows can count 3: a sync end frees its slot inside the statement whose synchronous
    # commit then makes it COMPLETED, and another run may start and commit meanwhile.)
    with psycopg.connect(url, autocommit=True) as conn:
        spans = conn.execute("SELECT started_at, completed_at FROM executions WHERE function_id = %s", (fid,))
        edges = sorted(edge for start, end in spans for edge in ((start, 1), (end, -1)))
    running = peak = 0
    for _, step in edges:  # at equal times an end (-1) sorts before a start (+1)
        running += step
        peak = max(peak, running)
    assert peak == 2


def test_sync_call_over_the_limit_gets_429_after_its_bounded_wait(server_url, template_url):
    with running_api(server_url, runner_pool_size=3) as app:  # sandboxes to spare: the slot limit binds
        app.extensions["pnil.settings"] = app.extensions["pnil.settings"].__class__(
            **{**_fields(app.extensions["pnil.settings"]), "slot_wait_s": 0.2}
        )
        client = app.test_client()
        fid = ready_function(client, "javascript", SLOW, {"maxConcurrentRuns": 1})
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(
                lambda: app.test_client().post(f"/functions/{fid}/execute", json={"input": {"ms": 3000}})
            )
            wait_for(lambda: client.get(f"/functions/{fid}/executions?status=RUNNING").get_json(), timeout=10)
            refused = client.post(f"/functions/{fid}/execute", json={"input": {}})
            assert busy.result(timeout=20).get_json()["status"] == "COMPLETED"
        assert expect_error(refused, 429)["message"].count("maxConcurrentRuns") == 1
        assert refused.headers["Retry-After"] == "1"


def _fields(settings) -> dict:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def test_killed_executor_fails_its_execution_once_and_frees_the_slot(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", LOOP, {"maxExecutionTimeMs": 20_000, "maxConcurrentRuns": 1})
    victim = start_executor(workers, concurrency=1)
    queued = submit(client, fid).get_json()
    wait_status(client, queued["id"], ("RUNNING",))

    os.killpg(victim.pid, signal.SIGKILL)  # the executor and its runner subprocesses
    victim.wait()
    start_executor(workers)  # a survivor: its sweep notices the freed slot

    lost = wait_status(client, queued["id"], FINAL, timeout=10)
    assert lost["status"] == "FAILED" and "lost" in lost["errorMessage"]
    # The slot came back by itself: a new execution of the one-slot function runs.
    after = submit(client, fid).get_json()
    assert wait_status(client, after["id"], ("RUNNING",) + FINAL, timeout=10)["status"] == "RUNNING"
    client.post(f"/executions/{after['id']}/cancel")
    # Never run a second time: still the one FAILED row, nothing restarted it.
    time.sleep(1.0)
    assert client.get(f"/executions/{queued['id']}").get_json()["status"] == "FAILED"


def test_a_flood_of_one_function_does_not_starve_another(api, workers):
    client = api.test_client()
    flood = ready_function(client, "javascript", SLOW, {"maxConcurrentRuns": 1})
    other = ready_function(client, "javascript", ECHO)
    for _ in range(60):
        submit(client, flood, {"ms": 50})
    start_executor(workers, concurrency=4)

    mine = submit(client, other, {"mine": True}).get_json()
    done = wait_status(client, mine["id"], FINAL, timeout=30)

    assert done["status"] == "COMPLETED"
    flooded = client.get(f"/functions/{flood}/executions?status=COMPLETED&limit=1000").get_json()
    assert len(flooded) < 60  # it did not wait for the flood to drain


def test_queued_execution_of_a_function_paused_meanwhile_fails_with_the_reason(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    queued = submit(client, fid).get_json()
    client.put(f"/functions/{fid}", json={"state": "PAUSED"})
    start_executor(workers)
    done = wait_status(client, queued["id"], FINAL)
    assert done["status"] == "FAILED" and "PAUSED" in done["errorMessage"]


def test_listing_filters_by_status_and_trigger_type(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    execute(client, fid)
    submit(client, fid)
    assert [e["status"] for e in client.get(f"/functions/{fid}/executions?status=PENDING").get_json()] == [
        "PENDING"
    ]
    assert len(client.get(f"/functions/{fid}/executions?triggerType=API").get_json()) == 2
    assert client.get(f"/functions/{fid}/executions?triggerType=CRON").get_json() == []
    expect_error(client.get(f"/functions/{fid}/executions?status=DONE"), 400)
