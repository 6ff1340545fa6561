"""The console's function settings (trigger, cron's next runs, HTTP URL, hosts, limits), its two
kinds of status badge, the #/functions/<id> route and the favicon, in a real Chromium."""

from __future__ import annotations

import uuid

import requests
from playwright.sync_api import expect

from tests.console.conftest import sign_in


def _name() -> str:
    return f"set-{uuid.uuid4().hex[:6]}"


def _api(console, method: str, path: str, **kwargs) -> dict:
    headers = {"Authorization": f"Bearer {console.acme_key}"}
    response = requests.request(method, f"{console.url}{path}", headers=headers, timeout=30, **kwargs)
    assert response.ok, response.text
    return response.json()


def test_the_new_function_form_sets_an_http_trigger_hosts_and_limits(page, console):
    sign_in(page, console.acme_key)
    name = _name()
    page.click("#nav-new")
    page.fill("#new-name", name)
    page.select_option("#set-type", "HTTP")
    page.fill("#set-http-path", f"/{name}")
    page.check("input[name=set-method][value=POST]")
    page.fill("#set-hosts", "example.com, *.example.org")
    page.fill("#limit-maxExecutionTimeMs", "2000")
    page.fill("#set-tags", "web")

    expect(page.locator("#http-url")).to_have_text(f"{console.url}/http/acme/{name}")
    page.click("#create button[type=submit]")

    expect(page.locator("#fn-status")).to_have_text("compiled", timeout=60_000)
    fn = _api(console, "GET", f"/functions/{name}")
    assert (fn["type"], fn["httpPath"], fn["httpMethods"]) == ("HTTP", f"/{name}", ["GET", "POST"])
    assert fn["allowedHosts"] == ["example.com", "*.example.org"] and fn["tags"] == ["web"]
    assert fn["resourceLimits"]["maxExecutionTimeMs"] == 2000
    page.click(".tabs a:has-text('Settings')")
    expect(page.locator("#http-url")).to_have_text(f"{console.url}/http/acme/{name}")
    page.click("#copy-url")
    expect(page.locator("#copy-url")).to_have_text("Copied")


def test_the_settings_tab_shows_a_crons_next_runs_and_saves_it(page, console):
    sign_in(page, console.acme_key)
    name = _name()
    _api(
        console,
        "POST",
        "/functions",
        json={"name": name, "language": "javascript", "source": "function handle(i) { return i; }"},
    )
    page.goto(f"/console#/f/{name}/settings")

    page.select_option("#set-type", "SCHEDULED")
    page.fill("#set-cron", "every minute")
    expect(page.locator("#next-runs .error")).to_contain_text("5 fields")
    page.fill("#set-cron", "*/10 * * * *")
    expect(page.locator("#next-runs li")).to_have_count(5)
    page.fill("#limit-maxConcurrentRuns", "2")
    page.click("#save-settings")

    expect(page.locator("#settings-saved")).to_be_visible()
    fn = _api(console, "GET", f"/functions/{name}")
    assert (fn["type"], fn["cronExpression"], fn["resourceLimits"]["maxConcurrentRuns"]) == (
        "SCHEDULED",
        "*/10 * * * *",
        2,
    )
    page.reload()
    expect(page.locator("#set-cron")).to_have_value("*/10 * * * *")
    expect(page.locator("#set-events")).to_be_hidden()  # only the chosen trigger's fields


def test_compile_and_execution_statuses_have_their_own_badges(page, console):
    sign_in(page, console.acme_key)
    name = _name()
    fn = _api(
        console,
        "POST",
        "/functions",
        json={
            "name": name,
            "language": "javascript",
            "source": "function handle(i) { throw new Error('x'); }",
        },
    )
    page.goto(f"/console#/functions/{fn['id']}/run")  # the id works like the name

    expect(page.locator("#fn-status .badge.compile")).to_have_text("compiled", timeout=60_000)
    page.click("#run")

    execution = page.locator("#execution [data-badge]").first
    expect(execution).to_have_text("FAILED")
    assert "compile" not in (execution.get_attribute("class") or "")
    page.goto("/console#/")
    expect(page.locator(f"tr[data-name='{name}'] .badge.compile")).to_have_text("compiled")


def test_the_console_has_a_favicon(page, console):
    icon = requests.get(f"{console.url}/favicon.ico", timeout=30)
    page.goto("/console")

    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    assert page.locator("link[rel=icon]").get_attribute("href") == "/favicon.ico"


def test_the_settings_tab_sets_the_retry_policy_and_the_secrets_a_function_reads(page, console):
    sign_in(page, console.acme_key)
    name, secret = _name(), f"TOKEN_{uuid.uuid4().hex[:6].upper()}"
    _api(console, "PUT", f"/secrets/{secret}", json={"value": "s3cret"})
    _api(
        console,
        "POST",
        "/functions",
        json={"name": name, "language": "javascript", "source": "function handle(i) { return i; }"},
    )
    page.goto(f"/console#/f/{name}/settings")

    page.fill("#retry-maxAttempts", "4")
    page.fill("#retry-initialDelayMs", "250")
    page.fill("#set-secrets", secret)
    page.click("#save-settings")

    expect(page.locator("#settings-saved")).to_be_visible()
    fn = _api(console, "GET", f"/functions/{name}")
    assert (fn["retryPolicy"]["maxAttempts"], fn["retryPolicy"]["initialDelayMs"]) == (4, 250)
    assert fn["secrets"] == [secret]
    page.reload()
    expect(page.locator("#retry-maxAttempts")).to_have_value("4")
    expect(page.locator("#set-secrets")).to_have_value(secret)
    page.fill("#set-secrets", "NO_SUCH_SECRET")
    page.click("#save-settings")
    expect(page.locator("#settings-result")).to_contain_text("NO_SUCH_SECRET")
