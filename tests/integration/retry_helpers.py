"""Shared by the retry, delay and replay tests: functions that fail a chosen number of times (a
key-value counter decides), an executor process per test, and waiting on a chain of attempts."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Processes, wait_for

# Fails its first `input.failures` runs (counted per `input.key` in the tenant's key-value store).
FLAKY = """
function handle(input) {
  const n = pnil.kv.increment('tries:' + input.key);
  if (n <= (input.failures ?? 0)) throw new Error('failing on purpose, run ' + n);
  return { runs: n };
}
"""
# Loops forever in its first attempt (so that it is RUNNING when its executor is killed), then answers.
HANGS_ONCE = """
function handle(input, context) {
  const n = pnil.kv.increment('tries:' + input.key);
  if (context.attempt === 1) { while (true) {} }
  return { runs: n, attempt: context.attempt };
}
"""
FINAL = ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED")
NO_WAIT = {"initialDelayMs": 0, "jitter": False}


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


def submit(client, fid, input_value=None, **options):
    """POST /functions/{id}/executions, expecting 202; returns the PENDING execution."""
    resp = client.post(f"/functions/{fid}/executions", json={"input": input_value or {}, **options})
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()


def wait_status(client, execution_id, statuses=FINAL, timeout=30.0):
    def done():
        row = client.get(f"/executions/{execution_id}").get_json()
        return row if row["status"] in statuses else None

    return wait_for(done, timeout=timeout, interval=0.02)


def attempts(client, first_id) -> list[dict]:
    """Every attempt of a chain, first first."""
    rows = client.get(f"/executions?firstAttemptId={first_id}").get_json()
    return sorted(rows, key=lambda row: row["attempt"])


def wait_chain(client, first_id, timeout=30.0) -> list[dict]:
    """Wait until the chain's last attempt ended without a next one; returns its attempts."""

    def settled():
        rows = attempts(client, first_id)
        last = rows[-1]
        return rows if last["status"] in FINAL and not last["retried"] else None

    return wait_for(settled, timeout=timeout, interval=0.05)


def kv_value(client, key):
    resp = client.get(f"/kv/{key}")
    return resp.get_json()["value"] if resp.status_code == 200 else None
