"""The console's workflow pages in a real Chromium: the runs list, a run's tree and cancel, a
named workflow's canvas and versions."""

from __future__ import annotations

import time
import uuid

import requests
from playwright.sync_api import expect

from tests.console.conftest import sign_in


def _ready(console, name: str, source: str) -> None:
    headers = {"Authorization": f"Bearer {console.acme_key}"}
    created = requests.post(
        f"{console.url}/functions",
        json={"name": name, "language": "javascript", "source": source},
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 60
    while (
        requests.get(f"{console.url}/functions/{name}", headers=headers, timeout=30).json()["status"]
        != "READY"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)


def _post(console, path: str, body: dict) -> dict:
    headers = {"Authorization": f"Bearer {console.acme_key}"}
    response = requests.request(
        "PUT" if path.startswith("/workflows/") and "/runs" not in path else "POST",
        f"{console.url}{path}",
        json=body,
        headers=headers,
        timeout=30,
    )
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


def test_a_run_page_shows_the_tree_and_cancels_and_the_list_filters(page, console):
    inc, slow = f"inc-{uuid.uuid4().hex[:6]}", f"slow-{uuid.uuid4().hex[:6]}"
    _ready(console, inc, "function handle(i) { return {n: (i.n || 0) + 1}; }")
    _ready(
        console,
        slow,
        "function handle(i) { const e = Date.now() + 20000; while (Date.now() < e) {} return i; }",
    )
    done = _post(
        console,
        "/workflows/runs",
        {"input": {"n": 1}, "steps": {"chain": [{"function": inc}, {"function": inc}]}},
    )
    running = _post(console, "/workflows/runs", {"steps": {"chain": [{"function": slow}, {"function": inc}]}})
    sign_in(page, console.acme_key)

    page.goto(f"/console#/r/{done['id']}")
    expect(page.locator("#run-title [data-badge]")).to_have_text("COMPLETED")
    expect(page.locator("#tree .step")).to_have_count(2)
    expect(page.locator("#tree .step [data-badge]").first).to_have_text("COMPLETED")
    expect(page.locator("#run-output")).to_contain_text('"n": 3')
    page.click("#tree .step >> nth=1 >> a:has-text('execution')")
    expect(page.locator("#execution-title [data-badge]")).to_have_text("COMPLETED")

    page.goto(f"/console#/r/{running['id']}")
    expect(page.locator("#tree .step [data-badge]").first).to_have_text("RUNNING", timeout=30_000)
    page.click("#cancel-run")
    expect(page.locator("#run-title [data-badge]")).to_have_text("CANCELLED")
    expect(page.locator("#tree .step [data-badge]").nth(1)).to_have_text("CANCELLED")

    page.click("#nav-workflows")
    expect(page.locator(f"#runs-table tr[data-run='{done['id']}']")).to_be_visible()
    page.select_option("#run-status", "CANCELLED")
    expect(page.locator(f"#runs-table tr[data-run='{running['id']}']")).to_be_visible()
    expect(page.locator(f"#runs-table tr[data-run='{done['id']}']")).to_have_count(0)


def test_a_workflow_page_shows_its_canvas_and_versions(page, console):
    inc = f"inc-{uuid.uuid4().hex[:6]}"
    _ready(console, inc, "function handle(i) { return i; }")
    name = f"wf-{uuid.uuid4().hex[:6]}"
    _post(console, f"/workflows/{name}", {"steps": {"function": inc}})
    _post(
        console,
        f"/workflows/{name}",
        {"steps": {"chain": [{"function": inc}]}, "changeDescription": "a chain"},
    )
    sign_in(page, console.acme_key)

    page.click("#nav-workflows")
    page.click(f"#workflows-table a:has-text('{name}')")

    expect(page.locator("#workflow-title")).to_contain_text("v2")
    expect(page.locator("#canvas")).to_contain_text('"chain"')
    expect(page.locator("#workflow-versions tbody tr")).to_have_count(2)
    expect(page.locator("#workflow-versions tr[data-version='2']")).to_contain_text("a chain")
