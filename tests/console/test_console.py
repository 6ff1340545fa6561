"""The console in a real Chromium against a real server."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import psycopg
import requests
from playwright.sync_api import expect

from store import tenants
from tests.console.conftest import sign_in


def _name() -> str:
    return f"web-{uuid.uuid4().hex[:6]}"


def _create(console, key: str, name: str, source: str, language: str = "javascript") -> dict:
    response = requests.post(
        f"{console.url}/functions",
        json={"name": name, "language": language, "source": source},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _type_into_editor(page, selector: str, text: str) -> None:
    page.click(f"{selector} .cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_create_in_the_editor_then_run_with_input(page, console):
    sign_in(page, console.acme_key)
    name = _name()

    page.click("#nav-new")
    page.fill("#new-name", name)
    _type_into_editor(
        page,
        "#new-source",
        "function handle(input) {\n  console.log('got', input.n);\n  return {double: input.n * 2};\n}",
    )
    page.click("#create button[type=submit]")

    expect(page.locator("#fn-status")).to_have_text("compiled", timeout=60_000)
    expect(page.locator("#source .cm-lineNumbers")).to_be_visible()  # a real editor with line numbers
    page.click(".tabs a:has-text('Run')")
    _type_into_editor(page, "#input", '{"n": 21}')
    page.click("#run")
    expect(page.locator("#execution [data-badge]").first).to_have_text("COMPLETED")
    expect(page.locator("#output")).to_contain_text('"double": 42')
    expect(page.locator("#logs")).to_have_text("got 21")
    expect(page.locator("#duration")).to_contain_text("ms")
    assert all(urlsplit(u).netloc == urlsplit(console.url).netloc for u in page.requests_seen)  # nothing else


def test_a_python_function_from_the_starter_runs_and_its_syntax_error_is_marked(page, console):
    sign_in(page, console.acme_key)
    name = _name()

    page.click("#nav-new")
    page.fill("#new-name", name)
    page.select_option("#new-language", "python")
    expect(page.locator("#new-source .cm-content")).to_contain_text("def handle(input, context=None):")
    page.click("#create button[type=submit]")

    expect(page.locator("#fn-status")).to_have_text("compiled", timeout=60_000)
    page.click(".tabs a:has-text('Run')")
    _type_into_editor(page, "#input", '{"name": "Ada"}')
    page.click("#run")
    expect(page.locator("#execution [data-badge]").first).to_have_text("COMPLETED")
    expect(page.locator("#output")).to_contain_text('"hello": "Ada"')
    expect(page.locator("#logs")).to_have_text("hello from API")

    page.click(".tabs a:has-text('Code')")
    _type_into_editor(page, "#source", "def handle(input):\n    x = 1\n    return (x +)\n")
    page.click("#save")
    expect(page.locator("#pending-failed")).to_have_text(
        "version 2 failed to compile; version 1 is still serving", timeout=60_000
    )
    expect(page.locator("#fn-status")).to_have_text("compiled")  # the live version still serves
    expect(page.locator("#compile-message")).to_contain_text("line 3, column 16")
    expect(page.locator("#source .cm-lintRange-error")).to_have_count(1)


def test_a_compile_error_is_marked_at_its_line(page, console):
    sign_in(page, console.acme_key)
    name = _name()
    _create(console, console.acme_key, name, "function handle(input) {\n  return 1;\n}")
    page.goto(f"/console#/f/{name}")
    expect(page.locator("#fn-status")).to_have_text("compiled", timeout=60_000)

    _type_into_editor(page, "#source", "function handle(input) {\n  const x = 1;\n  return (x +);\n}")
    page.click("#save")

    expect(page.locator("#pending-failed")).to_contain_text("still serving", timeout=60_000)
    expect(page.locator("#compile-message")).to_contain_text("line 3, column 14")
    marked = page.locator("#source .cm-lintRange-error")
    expect(marked).to_have_count(1)
    line_of_mark = page.locator("#source .cm-line", has=page.locator(".cm-lintRange-error"))
    expect(line_of_mark).to_have_text("  return (x +);")


def test_a_paused_function_refuses_to_run_with_the_reason(page, console):
    sign_in(page, console.acme_key)
    name = _name()
    _create(console, console.acme_key, name, "function handle(i) { return i; }")
    page.goto(f"/console#/f/{name}/run")
    expect(page.locator("#fn-status")).to_have_text("compiled", timeout=60_000)

    page.click("#lifecycle button[data-state=PAUSED]")

    expect(page.locator("#fn-state")).to_have_text("PAUSED")
    expect(page.locator("#run")).to_be_disabled()
    expect(page.locator("#run-refused")).to_contain_text("PAUSED: activate it to run it")
    # only the legal transitions are offered
    states = page.locator("#lifecycle button[data-state]").evaluate_all("bs => bs.map(b => b.dataset.state)")
    assert sorted(states) == ["ACTIVE", "DISABLED"]


def test_the_execution_page_and_the_history(page, console):
    sign_in(page, console.acme_key)
    name = _name()
    fn = _create(
        console,
        console.acme_key,
        name,
        "function handle(i) { if (i.fail) throw new Error('boom'); return i; }",
    )
    headers = {"Authorization": f"Bearer {console.acme_key}"}
    for _ in range(100):
        if (
            requests.get(f"{console.url}/functions/{name}", headers=headers, timeout=30).json()["status"]
            == "READY"
        ):
            break
    failed = requests.post(
        f"{console.url}/functions/{name}/execute", json={"input": {"fail": True}}, headers=headers, timeout=30
    ).json()
    requests.post(
        f"{console.url}/functions/{name}/execute", json={"input": {"ok": 1}}, headers=headers, timeout=30
    )

    page.goto(f"/console#/f/{name}/executions")
    expect(page.locator("#executions tbody tr")).to_have_count(2)
    page.select_option("#exec-status", "FAILED")
    expect(page.locator("#executions tbody tr")).to_have_count(1)
    page.click("#executions a:has-text('details')")

    expect(page.locator("#execution-title [data-badge]")).to_have_text("FAILED")
    expect(page.locator("#error")).to_contain_text("boom")
    expect(page.locator("#execution-input")).to_contain_text('"fail": true')
    assert failed["id"] in page.url and fn["id"]


def test_versions_diff_and_rollback(page, console):
    sign_in(page, console.acme_key)
    name = _name()
    _create(console, console.acme_key, name, "function handle(i) { return 1; }")
    headers = {"Authorization": f"Bearer {console.acme_key}"}
    requests.put(
        f"{console.url}/functions/{name}",
        json={"source": "function handle(i) { return 2; }"},
        headers=headers,
        timeout=30,
    )

    page.goto(f"/console#/f/{name}/versions")
    page.click("#show-diff")
    expect(page.locator("#diff .del")).to_contain_text("-function handle(i) { return 1; }")
    expect(page.locator("#diff .add")).to_contain_text("+function handle(i) { return 2; }")
    page.click("button[data-rollback='1']")

    expect(page.locator("#fn-version")).to_have_text("3")
    expect(page.locator("tr[data-version='3']")).to_contain_text("rollback to version 1")


def test_the_operations_page_refreshes_the_queues(page, console):
    sign_in(page, console.admin_key)
    page.goto("/console#/operations")

    expect(page.locator("#queue-table tr[data-queue='compilation_jobs']")).to_be_visible()
    first = page.locator("#queues-updated").text_content()
    expect(page.locator("#queues-updated")).not_to_have_text(first, timeout=10_000)


def test_the_operations_page_shows_storage_per_table_and_tenant(page, console):
    sign_in(page, console.admin_key)
    page.goto("/console#/operations")

    expect(page.locator("#storage-table tr[data-table='executions']")).to_be_visible()
    expect(page.locator("#storage-table tr[data-table='pgmq.q_executions']")).to_be_visible()
    expect(page.locator("#last-prune")).to_be_visible()


def test_signing_in_shows_only_that_tenants_functions_and_no_admin_pages(page, console):
    acme, globex = _name(), _name()
    _create(console, console.acme_key, acme, "function handle(i) { return i; }")
    _create(console, console.globex_key, globex, "function handle(i) { return i; }")

    page.goto("/")
    expect(page.locator("#signin")).to_be_visible()  # anonymous access is off on this server
    sign_in(page, console.globex_key)

    expect(page.locator("#who")).to_have_text("tenant globex")
    expect(page.locator(f"#functions tr[data-name='{globex}']")).to_be_visible()
    expect(page.locator(f"#functions tr[data-name='{acme}']")).to_have_count(0)
    expect(page.locator("#nav-operations")).to_be_hidden()
    assert console.globex_key not in page.url
    page.click("#sign-out")
    expect(page.locator("#signin")).to_be_visible()


def test_with_anonymous_local_access_no_sign_in_is_needed_but_operations_ask_for_the_admin_key(
    browser, server_url, template_url
):
    from bench.stack import Stack
    from tests.conftest import throwaway_database

    with throwaway_database(server_url) as url, Stack(("web",), database_url=url) as stack:
        with psycopg.connect(url, autocommit=True) as conn:
            admin_key = tenants.create_key(conn, "default", name="local operator", admin=True)[1]
        context = browser.new_context(base_url=stack.base_url)
        try:
            page = context.new_page()
            page.goto("/")
            expect(page.locator("#who")).to_have_text("tenant default")
            expect(page.locator("#signin")).to_have_count(0)
            expect(page.locator("#sign-out")).to_be_hidden()
            page.click("#nav-operations")
            expect(page.locator("#admin-signin")).to_contain_text(".pnil/admin-key")
            page.fill("#admin-key", admin_key)
            page.click("#admin-signin button[type=submit]")
            expect(page.locator("#who")).to_have_text("tenant default (admin)")
            expect(page.locator("#queue-table tr[data-queue='compilation_jobs']")).to_be_visible()
        finally:
            context.close()


def test_the_secrets_page_sets_lists_and_deletes_without_showing_a_value(page, console):
    name, value = f"CONSOLE_{uuid.uuid4().hex[:6].upper()}", f"v-{uuid.uuid4().hex}"
    sign_in(page, console.acme_key)
    page.click("#nav-secrets")

    page.fill("#secret-name", name)
    page.fill("#secret-value", value)
    page.click("#secret-form button[type=submit]")

    row = page.locator(f"#secret-table tr[data-secret='{name}']")
    expect(row).to_contain_text("1")
    expect(page.locator("#secret-value")).to_have_value("")
    assert value not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-delete]").click()
    expect(row).to_have_count(0)
