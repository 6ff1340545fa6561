"""Retries, delays, replay and the failed view from the SDK, the `pnil` CLI and /metrics."""

from __future__ import annotations

import json
import uuid

from pnil_client import Client

from tests.client.test_cli import pnil  # noqa: F401 - the fixture
from tests.client.test_metrics import scrape, total

FLAKY = """
function handle(input) {
  const n = pnil.kv.increment('tries:' + input.key);
  if (n <= (input.failures ?? 0)) throw new Error('failing on purpose, run ' + n);
  return { runs: n };
}
"""
NO_WAIT = {"initialDelayMs": 0, "jitter": False}


def flaky(server, policy: dict) -> tuple[Client, str]:
    client = Client(server.url, server.key)
    name = f"r-{uuid.uuid4().hex[:8]}"
    client.create_function(name, "javascript", FLAKY, retryPolicy=policy)
    client.wait_ready(name)
    return client, name


def test_the_sdk_follows_a_chain_to_its_last_attempt_and_lists_and_replays_failures(server):
    client, name = flaky(server, {"maxAttempts": 3, **NO_WAIT})
    before = scrape(server)

    done = client.submit(name, {"key": uuid.uuid4().hex, "failures": 2}).result(60)
    dead = client.submit(
        name, {"key": uuid.uuid4().hex, "failures": 9}, retry_policy={"maxAttempts": 2}
    ).result(60)

    assert done.status == "COMPLETED" and done.attempt == 3 and done.output == {"runs": 3}
    assert [a.attempt for a in client.attempts(done.id)] == [1, 2, 3]
    assert client.get_function(name).retry_policy["maxAttempts"] == 3
    assert dead.status == "FAILED" and dead.attempt == 2 and dead.retried is False
    assert dead.id in [e.id for e in client.failed()]
    replayed = client.replay(dead.id, input={"key": uuid.uuid4().hex}).result(60)
    assert replayed.replay_of == dead.id and replayed.status == "COMPLETED"
    after = scrape(server)
    assert total(after, "pnil_execution_retries_total") - total(before, "pnil_execution_retries_total") == 3
    moved = total(after, "pnil_execution_final_failures_total") - total(
        before, "pnil_execution_final_failures_total"
    )
    assert moved == 1
    assert ("pnil_executions_delayed_waiting", ()) in after


def test_the_sdk_delays_a_start(server):
    client, name = flaky(server, {})

    handle = client.submit(name, {"key": uuid.uuid4().hex}, delay_ms=800)

    assert handle.execution.scheduled_for is not None
    done = handle.result(60)
    assert done.status == "COMPLETED" and done.started_at >= done.scheduled_for


def test_the_cli_invokes_with_a_delay_lists_failures_and_replays(server, pnil):  # noqa: F811
    client, name = flaky(server, {"maxAttempts": 1})

    delayed = pnil(
        "--json", "invoke", name, "--async", "--delay", "1s", "--input", json.dumps({"key": uuid.uuid4().hex})
    )
    failing = pnil("invoke", name, "--async", "--input", json.dumps({"key": uuid.uuid4().hex, "failures": 5}))
    listed = pnil("--json", "failed")
    bad_delay = pnil("invoke", name, "--delay", "soon")

    assert delayed.returncode == 0, delayed.stderr
    assert json.loads(delayed.stdout)["scheduledFor"] is not None
    assert failing.returncode == 1
    failures = json.loads(listed.stdout)
    assert listed.returncode == 0 and failures and failures[0]["status"] == "FAILED"
    replayed = pnil(
        "--json", "replay", failures[0]["id"], "--latest", "--input", json.dumps({"key": uuid.uuid4().hex})
    )
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["replayOf"] == failures[0]["id"]
    assert bad_delay.returncode == 2 and "duration" in bad_delay.stderr
