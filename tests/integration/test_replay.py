"""Replay of finished executions (same or latest version, same or new input) through the API."""

from __future__ import annotations

from tests.integration.api_fixtures import fresh_api as api
from tests.integration.execute_helpers import execute, expect_error, ready_function, wait_compiled
from tests.integration.retry_helpers import db_url, start_executor, submit, wait_status, workers

__all__ = ["api", "db_url", "workers"]  # fixtures used below

V1 = "function handle(input, context) { return { version: 1, input, trigger: context.trigger }; }"
V2 = "function handle(input, context) { return { version: 2, input }; }"


def test_replay_same_runs_the_same_version_with_the_same_input(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    start_executor(workers)
    original = execute(client, fid, {"n": 1})

    resp = client.post(f"/executions/{original['id']}/replay")

    assert resp.status_code == 202, resp.get_json()
    queued = resp.get_json()
    assert resp.headers["Location"] == f"/executions/{queued['id']}"
    assert queued["replayOf"] == original["id"] and queued["triggerType"] == "MANUAL"
    done = wait_status(client, queued["id"])
    assert done["status"] == "COMPLETED" and done["functionVersion"] == 1
    assert done["output"]["input"] == {"n": 1} and done["output"]["trigger"]["replayOf"] == original["id"]


def test_replay_with_new_input_and_latest_version_and_same_refused_when_replaced(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    start_executor(workers)
    original = execute(client, fid, {"n": 1})
    assert client.put(f"/functions/{fid}", json={"source": V2}).status_code == 200
    assert wait_compiled(client, [fid])[fid]["status"] == "READY"

    same = client.post(f"/executions/{original['id']}/replay", json={"version": "same"})
    latest = client.post(
        f"/executions/{original['id']}/replay", json={"version": "latest", "input": {"n": 2}}
    )

    assert "version 1" in expect_error(same, 409)["message"]
    assert latest.status_code == 202
    done = wait_status(client, latest.get_json()["id"])
    assert done["output"] == {"version": 2, "input": {"n": 2}} and done["functionVersion"] == 2


def test_replay_of_a_pending_execution_is_409_and_bad_bodies_are_400(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    pending = submit(client, fid)  # no executor: it stays PENDING

    assert "PENDING" in expect_error(client.post(f"/executions/{pending['id']}/replay"), 409)["message"]
    expect_error(client.post("/executions/00000000-0000-0000-0000-000000000000/replay"), 404)
    done = execute(client, fid)
    expect_error(client.post(f"/executions/{done['id']}/replay", json={"version": "oldest"}), 400)
    expect_error(client.post(f"/executions/{done['id']}/replay", json={"input": [1]}), 400)


def test_a_replayed_failure_keeps_the_chain_s_retry_policy(api, workers):
    client = api.test_client()
    fid = ready_function(client, "javascript", "function handle() { throw new Error('no'); }")
    start_executor(workers)
    policy = {"maxAttempts": 2, "initialDelayMs": 0, "jitter": False}
    first = submit(client, fid, retryPolicy=policy)
    wait_status(client, first["id"])

    replayed = client.post(f"/executions/{first['id']}/replay").get_json()

    assert replayed["retryPolicy"]["maxAttempts"] == 2 and replayed["attempt"] == 1
