"""A real pnil (gunicorn, compiler, consumer, executor, real PostgreSQL) and Debian's chromium."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import sync_playwright

from bench.stack import Stack
from infra.secretbox import new_key
from store import tenants
from tests.conftest import throwaway_database

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass(frozen=True)
class Console:
    url: str
    admin_key: str
    acme_key: str
    globex_key: str


@pytest.fixture(scope="package")
def console(server_url, template_url):
    with throwaway_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            admin = tenants.create_key(conn, "ops", name="admin", admin=True)[1]
            acme = tenants.create_key(conn, "acme", name="acme")[1]
            globex = tenants.create_key(conn, "globex", name="globex")[1]
        processes = ("web", "compiler", "consumer", "executor")
        # The console tests compile no AssemblyScript: no Node compiler to wait for at start.
        env = {"PNIL_ALLOW_ANONYMOUS": "0", "PNIL_SECRET_KEY": new_key(), "PNIL_COMPILER_WARM_START": "0"}
        with Stack(processes, database_url=url, extra_env=env) as stack:
            yield Console(stack.base_url, admin, acme, globex)


@pytest.fixture(scope="package")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(browser, console, request):
    """A fresh browser context; a screenshot in test-artifacts/ when the test fails."""
    context = browser.new_context(base_url=console.url)
    page = context.new_page()
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.requests_seen = requests_seen
    page.set_default_timeout(20_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def sign_in(page, key: str) -> None:
    page.goto("/")
    page.fill("#api-key", key)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#who:has-text('tenant')")
