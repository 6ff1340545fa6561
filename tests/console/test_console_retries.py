"""The console's attempts timeline, Replay, and the Failed view, in a real Chromium."""

from __future__ import annotations

import time
import uuid

import requests
from playwright.sync_api import expect

from tests.console.conftest import sign_in

# Fails while input.fail is set: its attempts and replays are easy to tell apart.
SOURCE = "function handle(i) { if (i.fail) throw new Error('boom ' + i.n); return i; }"


def _ready_function(console) -> tuple[str, dict]:
    name = f"web-{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {console.acme_key}"}
    policy = {"maxAttempts": 2, "initialDelayMs": 0, "jitter": False}
    body = {"name": name, "language": "javascript", "source": SOURCE, "retryPolicy": policy}
    assert (
        requests.post(f"{console.url}/functions", json=body, headers=headers, timeout=30).status_code == 201
    )
    deadline = time.monotonic() + 60
    while (
        requests.get(f"{console.url}/functions/{name}", headers=headers, timeout=30).json()["status"]
        != "READY"
    ):
        assert time.monotonic() < deadline, "the function did not compile"
        time.sleep(0.1)
    return name, headers


def _failed_chain(console, name, headers, n: int) -> str:
    """Queue a run that fails both attempts; the id of its last attempt once it ended."""
    first = requests.post(
        f"{console.url}/functions/{name}/executions",
        json={"input": {"fail": True, "n": n}},
        headers=headers,
        timeout=30,
    ).json()
    deadline = time.monotonic() + 60
    while True:
        chain = requests.get(
            f"{console.url}/executions?firstAttemptId={first['id']}", headers=headers, timeout=30
        ).json()
        last = max(chain, key=lambda e: e["attempt"])
        if last["status"] == "FAILED" and not last["retried"]:
            return last["id"]
        assert time.monotonic() < deadline, chain
        time.sleep(0.1)


def test_the_execution_page_shows_the_attempts_and_replays(page, console):
    sign_in(page, console.acme_key)
    name, headers = _ready_function(console)
    last = _failed_chain(console, name, headers, 1)

    page.goto(f"/console#/e/{last}")

    expect(page.locator("#attempts li")).to_have_count(2)
    expect(page.locator("#attempts li[data-attempt='1']")).to_contain_text("retried")
    expect(page.locator("#attempts li.current")).to_contain_text("attempt 2 of 2")
    page.click("#replay")
    page.wait_for_function("last => !location.hash.includes(last)", arg=last)
    replayed = page.url.split("#/e/")[1]
    # A replay is a chain of its own: the new execution is its first attempt.
    expect(page.locator(f"#attempts li[data-attempt='1'] a[href='#/e/{replayed}']")).to_have_count(1)
    row = requests.get(f"{console.url}/executions/{replayed}", headers=headers, timeout=30).json()
    assert row["replayOf"] == last


def test_the_failed_view_replays_several_at_once(page, console):
    sign_in(page, console.acme_key)
    name, headers = _ready_function(console)
    picked = [_failed_chain(console, name, headers, n) for n in (2, 3)]

    page.goto("/console#/failed")
    for execution_id in picked:
        page.check(f"#failed tr[data-execution='{execution_id}'] input[name=pick]")
    page.click("#replay-selected")

    expect(page.locator("#replayed li a[data-replay]")).to_have_count(2)
    new_ids = page.locator("#replayed a[data-replay]").evaluate_all(
        "links => links.map(a => a.dataset.replay)"
    )
    replays = [
        requests.get(f"{console.url}/executions/{i}", headers=headers, timeout=30).json() for i in new_ids
    ]
    assert sorted(r["replayOf"] for r in replays) == sorted(picked)
