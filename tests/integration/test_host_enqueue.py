"""pnil.enqueue from inside a function (JavaScript, Python, AssemblyScript): a queued execution of
another function of the same tenant, its id returned; refusals the code can see; the call budget."""

from __future__ import annotations

import pytest

from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import execute, ready_function

__all__ = ["api"]  # fixture used below

TARGET = "function handle(input) { return input; }"
ENQUEUE_JS = """
function handle(input) {
  const ids = [];
  for (const n of input.ns) ids.push(pnil.enqueue(input.target, {n}));
  return {ids};
}
"""
ENQUEUE_PY = """
from pnil import enqueue
def handle(input):
    return {"ids": [enqueue(input["target"], {"n": n}) for n in input["ns"]]}
"""
ENQUEUE_AS = """
import { enqueue } from "pnil";
export function handle(input: string): string {
  return '{"ids":["' + enqueue("enqueue-target", '{"n":1}') + '"]}';
}
"""


@pytest.fixture(scope="module")
def target(api):
    client = api.test_client()
    resp = client.post(
        "/functions", json={"name": "enqueue-target", "language": "javascript", "source": TARGET}
    )
    fid = resp.get_json()["id"]
    from tests.integration.execute_helpers import wait_compiled

    assert wait_compiled(client, [fid])[fid]["status"] == "READY"
    return fid


def queued(client, execution_id: str) -> dict:
    return client.get(f"/executions/{execution_id}").get_json()


@pytest.mark.parametrize(("language", "source"), [("javascript", ENQUEUE_JS), ("python", ENQUEUE_PY)])
def test_enqueue_queues_executions_of_another_function_and_returns_their_ids(
    client, target, language, source
):
    caller = ready_function(client, language, source)

    run = execute(client, caller, {"target": "enqueue-target", "ns": [1, 2]})

    assert run["status"] == "COMPLETED", run["errorMessage"]
    ids = run["output"]["ids"]
    assert len(set(ids)) == 2
    rows = [queued(client, i) for i in ids]
    assert [r["input"] for r in rows] == [{"n": 1}, {"n": 2}]
    assert all(r["functionId"] == target and r["status"] == "PENDING" for r in rows)
    assert all(r["triggerData"] == {"enqueuedBy": run["id"]} for r in rows)
    assert run["metrics"]["apiCallCount"] == 2


def test_assemblyscript_enqueues_too(client, target):
    caller = ready_function(client, "assemblyscript", ENQUEUE_AS)

    run = execute(client, caller, {})

    assert run["status"] == "COMPLETED", run["errorMessage"]
    assert queued(client, run["output"]["ids"][0])["input"] == {"n": 1}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("pnil.enqueue('no-such-function', {})", "not found"),
        ("pnil.enqueue('enqueue-target', [1])", "input must be a JSON object"),
        ("pnil.enqueue('enqueue-target', {}, {delayMs: 31 * 24 * 3600 * 1000})", "delayMs is at most"),
        ("pnil.enqueue('enqueue-target', {}, {delayMs: -1})", "delayMs"),
    ],
)
def test_a_refused_enqueue_throws_an_error_the_code_can_catch(client, target, call, message):
    caller = ready_function(
        client,
        "javascript",
        f"function handle(i) {{ try {{ {call}; return 'no'; }} catch (e) {{ return String(e.message); }} }}",
    )

    run = execute(client, caller, {})

    assert message in run["output"], run["output"]


def test_a_delayed_enqueue_waits_and_follows_the_retry_policy_of_its_function(client, target):
    caller = ready_function(
        client,
        "javascript",
        "function handle(i) { return pnil.enqueue('enqueue-target', {}, {delayMs: 60000}); }",
    )

    run = execute(client, caller, {})

    row = queued(client, run["output"])
    assert row["status"] == "PENDING" and row["scheduledFor"] is not None
    assert row["maxAttempts"] == row["retryPolicy"]["maxAttempts"] >= 1


def test_enqueue_counts_against_max_api_calls_per_minute(client, target):
    caller = ready_function(
        client,
        "javascript",
        "function handle(i) { const ids = []; try { for (let k = 0; k < 5; k++) ids.push(pnil.enqueue("
        "'enqueue-target', {k})); } catch (e) { return {ids, error: String(e.message)}; } return {ids}; }",
        {"maxApiCallsPerMinute": 3},
    )

    run = execute(client, caller, {})

    assert len(run["output"]["ids"]) == 3
    assert "maxApiCallsPerMinute" in run["output"]["error"]
