"""Retries of queued executions through the API: the policy, attempts as rows, the chain under kill -9."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import datetime

import psycopg
import pytest

from store import attempts as store_attempts
from tests.integration.api_fixtures import fresh_api as api
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import execute, expect_error, ready_function, wait_compiled
from tests.integration.retry_helpers import (
    FLAKY,
    HANGS_ONCE,
    NO_WAIT,
    attempts,
    db_url,
    kv_value,
    start_executor,
    submit,
    wait_chain,
    wait_status,
    workers,
)

__all__ = ["api", "db_url", "workers"]  # fixtures used below


def flaky(client, policy=None):
    fid = ready_function(client, "javascript", FLAKY)
    if policy is not None:
        resp = client.put(f"/functions/{fid}", json={"retryPolicy": policy})
        assert resp.status_code == 200, resp.get_json()
    return fid


def test_the_policy_has_defaults_is_changed_by_put_and_bad_ones_are_400(api):
    client = api.test_client()
    fid = flaky(client)
    assert client.get(f"/functions/{fid}").get_json()["retryPolicy"] == {
        "maxAttempts": 1,
        "initialDelayMs": 1000,
        "backoffMultiplier": 2.0,
        "maxDelayMs": 300000,
        "jitter": True,
        "retryOn": ["FAILED", "TIMEOUT"],
        "retryLost": False,
    }

    changed = client.put(
        f"/functions/{fid}", json={"retryPolicy": {"maxAttempts": 5, "retryOn": ["TIMEOUT"]}}
    )

    assert changed.status_code == 200
    policy = client.get(f"/functions/{fid}").get_json()["retryPolicy"]
    assert (
        policy["maxAttempts"] == 5 and policy["retryOn"] == ["TIMEOUT"] and policy["initialDelayMs"] == 1000
    )
    for bad, word in [
        ({"maxAttempts": 21}, "maxAttempts"),
        ({"maxAttempts": 0}, "maxAttempts"),
        ({"backoffMultiplier": 0.5}, "backoffMultiplier"),
        ({"retryOn": ["COMPLETED"]}, "retryOn"),
        ({"jitter": "yes"}, "jitter"),
        ({"maxAttemps": 3}, "maxAttemps"),
        ([1], "JSON object"),
    ]:
        assert word in str(expect_error(client.put(f"/functions/{fid}", json={"retryPolicy": bad}), 400))
        assert word in str(expect_error(submit_raw(client, fid, retryPolicy=bad), 400))


def submit_raw(client, fid, **options):
    return client.post(f"/functions/{fid}/executions", json={"input": {}, **options})


def test_each_attempt_is_a_row_linked_to_the_previous_and_the_last_one_completes(api, workers):
    client = api.test_client()
    fid = flaky(client, {"maxAttempts": 3, **NO_WAIT})
    start_executor(workers)

    first = submit(client, fid, {"key": "a", "failures": 2})
    chain = wait_chain(client, first["id"])

    assert [(r["attempt"], r["status"], r["retried"]) for r in chain] == [
        (1, "FAILED", True),
        (2, "FAILED", True),
        (3, "COMPLETED", False),
    ]
    assert [r["retryOf"] for r in chain] == [None, chain[0]["id"], chain[1]["id"]]
    assert {r["firstAttemptId"] for r in chain} == {first["id"]}
    assert {r["maxAttempts"] for r in chain} == {3}
    assert chain[2]["output"] == {"runs": 3} and kv_value(client, "tries:a") == 3
    assert "failing on purpose, run 1" in chain[0]["errorMessage"]
    assert all(r["scheduledFor"] is not None for r in chain[1:])
    retrying = client.get("/events?type=jsruntime.execution.retrying").get_json()
    payloads = sorted((e["payload"] for e in retrying), key=lambda p: p["attempt"])
    assert [(p["executionId"], p["attempt"], p["nextAttemptId"]) for p in payloads] == [
        (chain[0]["id"], 1, chain[1]["id"]),
        (chain[1]["id"], 2, chain[2]["id"]),
    ]
    assert all(p["scheduledFor"] for p in payloads)


def test_past_max_attempts_it_is_failed_for_good_and_listed_as_a_final_failure(api, workers):
    client = api.test_client()
    fid = flaky(client, {"maxAttempts": 2, **NO_WAIT})
    start_executor(workers)

    first = submit(client, fid, {"key": "b", "failures": 10})
    chain = wait_chain(client, first["id"])

    assert [(r["status"], r["retried"]) for r in chain] == [("FAILED", True), ("FAILED", False)]
    assert kv_value(client, "tries:b") == 2
    final = client.get("/executions?status=FAILED&final=true").get_json()
    assert [r["id"] for r in final] == [chain[1]["id"]]
    assert chain[0]["id"] in [r["id"] for r in client.get("/executions?status=FAILED&final=false").get_json()]
    expect_error(client.get("/executions?final=maybe"), 400)


def test_retry_on_only_timeout_does_not_retry_a_failure_and_a_request_may_override(api, workers):
    client = api.test_client()
    fid = flaky(client, {"maxAttempts": 3, "retryOn": ["TIMEOUT"], **NO_WAIT})
    start_executor(workers)

    kept = submit(client, fid, {"key": "c", "failures": 1})
    overridden = submit(client, fid, {"key": "d", "failures": 1}, retryPolicy={"retryOn": ["FAILED"]})

    assert [r["status"] for r in wait_chain(client, kept["id"])] == ["FAILED"]
    chain = wait_chain(client, overridden["id"])
    assert [r["status"] for r in chain] == ["FAILED", "COMPLETED"]
    assert chain[0]["retryPolicy"]["retryOn"] == ["FAILED"] and chain[0]["retryPolicy"]["maxAttempts"] == 3


def test_sync_execute_never_retries(api):
    client = api.test_client()
    fid = flaky(client, {"maxAttempts": 5, **NO_WAIT})

    done = execute(client, fid, {"key": "e", "failures": 1})

    assert done["status"] == "FAILED" and done["retried"] is False and done["retryPolicy"] is None
    assert attempts(client, done["id"]) == [client.get(f"/executions/{done['id']}").get_json()]
    assert kv_value(client, "tries:e") == 1


def test_executor_killed_between_attempts_never_breaks_or_doubles_the_chain(api, workers):
    client = api.test_client()
    # The second attempt waits 3 s: the executor is killed while it waits.
    fid = flaky(client, {"maxAttempts": 3, "initialDelayMs": 3000, "jitter": False})
    victim = start_executor(workers)
    first = submit(client, fid, {"key": "f", "failures": 1})
    failed = wait_status(client, first["id"])
    assert failed["status"] == "FAILED" and failed["retried"] is True

    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    start_executor(workers)
    start_executor(workers)  # two survivors: the next attempt still starts only once

    chain = wait_chain(client, first["id"])
    assert [(r["attempt"], r["status"]) for r in chain] == [(1, "FAILED"), (2, "COMPLETED")]
    assert kv_value(client, "tries:f") == 2  # each attempt ran exactly once


def test_a_lost_attempt_is_not_retried_unless_the_policy_says_retry_lost(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", HANGS_ONCE, {"maxExecutionTimeMs": 20_000})
    client.put(f"/functions/{fid}", json={"retryPolicy": {"maxAttempts": 3, **NO_WAIT}})
    victim = start_executor(workers, concurrency=2)
    # One after the other: a consumer thread reads a batch of messages and runs them in turn.
    kept = submit(client, fid, {"key": "g"})
    wait_status(client, kept["id"], ("RUNNING",))
    retried = submit(client, fid, {"key": "h"}, retryPolicy={"retryLost": True})
    wait_status(client, retried["id"], ("RUNNING",))

    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    start_executor(workers)  # its sweep finds both lost

    assert [(r["status"], r["retried"]) for r in wait_chain(client, kept["id"])] == [("FAILED", False)]
    chain = wait_chain(client, retried["id"])
    assert [r["status"] for r in chain] == ["FAILED", "COMPLETED"]
    assert "lost" in chain[0]["errorMessage"] and chain[0]["retried"] is True
    assert chain[1]["output"]["attempt"] == 2
    assert kv_value(client, "tries:g") in (None, 1)  # never run again


def test_recording_the_same_end_twice_creates_one_next_attempt(api, db_url):
    client = api.test_client()
    fid = flaky(client, {"maxAttempts": 3, "initialDelayMs": 60_000, "jitter": False})
    first = submit(client, fid, {"key": "i"})
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE executions SET status = 'RUNNING' WHERE id = %s", (first["id"],))
        ended = store_attempts.finish(
            conn,
            uuid.UUID(first["id"]),
            status="FAILED",
            output_json=None,
            error_message="x",
            logs="",
            metrics={},
        )
        # A second recording (e.g. a redelivered end) finds it no longer RUNNING: nothing more.
        conn.execute("UPDATE executions SET status = 'RUNNING' WHERE id = %s", (first["id"],))
        again = store_attempts.finish(
            conn,
            uuid.UUID(first["id"]),
            status="FAILED",
            output_json=None,
            error_message="x",
            logs="",
            metrics={},
        )
        count = conn.execute(
            "SELECT count(*) FROM executions WHERE retry_of = %s", (first["id"],)
        ).fetchone()[0]
        queued = conn.execute("SELECT count(*) FROM pgmq.q_executions").fetchone()[0]

    assert ended["retried"] and ended["next_attempt_id"] is not None
    assert again["next_attempt_id"] is None
    assert count == 1 and queued == 2  # the first attempt's message and one for its retry


@pytest.mark.parametrize("field", ["retryPolicy", "delayMs"])
def test_sync_execute_refuses_queue_options(api, field):
    client = api.test_client()
    fid = flaky(client)
    value = {"maxAttempts": 2} if field == "retryPolicy" else 10
    expect_error(client.post(f"/functions/{fid}/execute", json={"input": {}, field: value}), 400)


def test_backoff_waits_between_attempts(api, workers):
    client = api.test_client()
    fid = flaky(client, {"maxAttempts": 2, "initialDelayMs": 1500, "jitter": False})
    start_executor(workers)
    first = submit(client, fid, {"key": "j", "failures": 1})

    chain = wait_chain(client, first["id"])

    at = {name: datetime.fromisoformat(chain[1][name]) for name in ("scheduledFor", "startedAt")}
    assert (at["scheduledFor"] - datetime.fromisoformat(chain[0]["completedAt"])).total_seconds() >= 1.5
    assert at["startedAt"] >= at["scheduledFor"]


def test_a_timeout_is_retried_by_default(api, workers):
    client = api.test_client()
    fid = ready_function(
        client, "javascript", "function handle() { while (true) {} }", {"maxExecutionTimeMs": 300}
    )
    client.put(f"/functions/{fid}", json={"retryPolicy": {"maxAttempts": 2, **NO_WAIT}})
    start_executor(workers)

    first = submit(client, fid)

    chain = wait_chain(client, first["id"])
    assert [(r["status"], r["retried"]) for r in chain] == [("TIMEOUT", True), ("TIMEOUT", False)]


def test_an_event_triggered_execution_follows_its_function_s_policy(api, workers):
    client = api.test_client()
    source = (
        "function handle(input, context) {"
        " if (context.attempt === 1) throw new Error('first attempt'); return { attempt: context.attempt }; }"
    )
    body = {
        "name": f"ev-{uuid.uuid4().hex[:6]}",
        "language": "javascript",
        "source": source,
        "type": "EVENT",
        "eventTypes": ["order.created"],
        "retryPolicy": {"maxAttempts": 2, **NO_WAIT},
    }
    fid = client.post("/functions", json=body).get_json()["id"]
    assert wait_compiled(client, [fid])[fid]["status"] == "READY"
    workers.start("-m", "broker", "worker", "tasks:broker", "executions", "events", "--name", "executor")

    assert client.post("/events", json={"type": "order.created", "payload": {}}).status_code == 202

    first = wait_for(lambda: client.get(f"/functions/{fid}/executions?triggerType=EVENT&limit=5").get_json())[
        -1
    ]
    chain = wait_chain(client, first["firstAttemptId"])
    assert [(r["status"], r["triggerType"]) for r in chain] == [("FAILED", "EVENT"), ("COMPLETED", "EVENT")]
    assert chain[1]["output"] == {"attempt": 2}
