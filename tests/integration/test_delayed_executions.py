"""Delayed and expiring queued executions through the API (delayMs, runAt, expiresAt, maxQueueMs)."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import psycopg

from tests.integration.api_fixtures import fresh_api as api
from tests.integration.execute_helpers import expect_error, ready_function
from tests.integration.retry_helpers import (
    FLAKY,
    db_url,
    kv_value,
    start_executor,
    submit,
    wait_chain,
    wait_status,
    workers,
)

__all__ = ["api", "db_url", "workers"]  # fixtures used below
DAY_MS = 24 * 3600 * 1000


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_delayed_execution_waits_until_scheduled_for_and_costs_no_deliveries(api, workers, db_url):
    client = api.test_client()
    fid = ready_function(client, "javascript", FLAKY)
    start_executor(workers)

    queued = submit(client, fid, {"key": "a"}, delayMs=1500)

    assert queued["status"] == "PENDING" and queued["scheduledFor"] is not None
    assert (at(queued["scheduledFor"]) - at(queued["queuedAt"])).total_seconds() >= 1.5
    done = wait_status(client, queued["id"])
    assert done["status"] == "COMPLETED" and at(done["startedAt"]) >= at(done["scheduledFor"])
    with psycopg.connect(db_url) as conn:  # read once, when due: nothing polled it meanwhile
        reads = conn.execute("SELECT max(read_ct) FROM pgmq.a_executions").fetchone()[0]
        left = conn.execute("SELECT count(*) FROM pgmq.q_executions").fetchone()[0]
    assert left == 0 and reads in (None, 1)


def test_run_at_is_honoured_and_a_delayed_execution_can_be_cancelled(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", FLAKY)
    start_executor(workers)
    run_at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()

    later = submit(client, fid, {"key": "b"}, runAt=run_at)
    cancelled = submit(client, fid, {"key": "c"}, delayMs=2000)
    resp = client.post(f"/executions/{cancelled['id']}/cancel")

    assert at(later["scheduledFor"]) == at(run_at)
    assert resp.status_code == 200 and resp.get_json()["status"] == "CANCELLED"
    done = wait_status(client, later["id"])
    assert done["status"] == "COMPLETED" and at(done["startedAt"]) >= at(run_at)
    wait_status(client, submit(client, fid, {"key": "d"}, delayMs=2500)["id"])  # past c's due time
    assert kv_value(client, "tries:c") is None  # never ran
    assert client.get(f"/executions/{cancelled['id']}").get_json()["startedAt"] is None


def test_a_delay_survives_an_executor_restart(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", FLAKY)
    victim = start_executor(workers)

    queued = submit(client, fid, {"key": "e"}, delayMs=2000)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    start_executor(workers)

    done = wait_status(client, queued["id"])
    assert done["status"] == "COMPLETED" and at(done["startedAt"]) >= at(done["scheduledFor"])
    assert kv_value(client, "tries:e") == 1


def test_bad_delays_and_expiries_are_400_saying_the_limit(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", FLAKY)
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    far = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    def post(**options):
        return client.post(f"/functions/{fid}/executions", json={"input": {}, **options})

    assert "30 days" in str(expect_error(post(delayMs=30 * DAY_MS + 1), 400))
    assert "30 days" in str(expect_error(post(runAt=far), 400))
    assert "not both" in str(expect_error(post(delayMs=10, runAt=soon), 400))
    assert "not both" in str(expect_error(post(expiresAt=soon, maxQueueMs=10), 400))
    assert "past" in str(expect_error(post(expiresAt=past), 400))
    assert "never run" in str(expect_error(post(delayMs=120_000, expiresAt=soon), 400))
    expect_error(post(delayMs=-1), 400)
    expect_error(post(runAt="tomorrow"), 400)
    expect_error(post(runAt="2030-01-01T00:00:00"), 400)  # no offset: ambiguous
    assert post(delayMs=30 * DAY_MS).status_code == 202


def test_an_execution_not_started_before_its_expiry_fails_expired_and_never_runs(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", FLAKY)
    # No executor yet: it cannot start in time.
    stale = submit(client, fid, {"key": "f"}, maxQueueMs=300)
    fresh = submit(client, fid, {"key": "g"}, maxQueueMs=600_000)
    wait_status(client, stale["id"], ("PENDING",))
    time.sleep(0.5)  # past its expiry (a fact to set up, not a timing assertion)
    start_executor(workers)

    expired = wait_status(client, stale["id"])
    assert expired["status"] == "FAILED" and expired["errorMessage"].startswith("expired:")
    assert expired["startedAt"] is None and kv_value(client, "tries:f") is None
    assert wait_status(client, fresh["id"])["status"] == "COMPLETED"
    assert expired["id"] in [r["id"] for r in client.get("/executions?final=true").get_json()]


def test_no_retry_is_created_past_the_expiry(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", FLAKY)
    start_executor(workers)
    policy = {"maxAttempts": 3, "initialDelayMs": 60_000, "jitter": False}

    first = submit(client, fid, {"key": "h", "failures": 5}, retryPolicy=policy, maxQueueMs=30_000)

    chain = wait_chain(client, first["id"])
    assert [(r["status"], r["retried"]) for r in chain] == [("FAILED", False)]
    assert chain[0]["expiresAt"] is not None
