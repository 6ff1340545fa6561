"""Fixtures for API tests: an app on the test database, API clients, worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from infra.settings import Settings
from store import tenants
from tests.conftest import PROJECT_ROOT
from web.app import create_app


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, allow_anonymous=True)


def close_app(app) -> None:
    """Stop what an app started: its runner subprocesses and database pool."""
    executor = app.extensions.get("pnil.executions")
    if executor is not None:
        executor.close()
    routes = app.extensions.get("pnil.http_routes")
    if routes is not None:
        routes.close()
    compilers = app.extensions.get("pnil.compile_check")
    if compilers is not None:
        compilers.close()
    app.extensions["pnil.db"].close()


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    close_app(app)


@pytest.fixture
def api(app):
    """The app a test's client talks to: its own `app`, unless its module imports a shared one
    (`from tests.integration.api_fixtures import api`) or defines `api` itself."""
    return app


@pytest.fixture
def client(api):
    """The one API client fixture: anonymous (the local-run configuration: tenant `default`), on `api`."""
    return api.test_client()


@pytest.fixture
def make_key(database_url):
    """Factory: a new API key for a tenant; returns the key."""

    def make(tenant: str, *, admin: bool = False) -> str:
        with psycopg.connect(database_url, autocommit=True) as conn:
            return tenants.create_key(conn, tenant, name=f"{tenant} test key", admin=admin)[1]

    return make


class Processes:
    """Starts pnil worker processes against the test database and stops them after the test."""

    def __init__(self, database_url: str) -> None:
        self.env = {**os.environ, "DATABASE_URL": database_url, "PNIL_LOG_LEVEL": "INFO"}
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, name: str = "worker") -> subprocess.Popen:
        log = open(f"/tmp/pnil-test-{name}-{os.getpid()}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, *args],
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def worker(self, queue: str, name: str, *extra: str) -> subprocess.Popen:
        return self.start("-m", "broker", "worker", "tasks:broker", queue, "--name", name, *extra, name=name)

    def compile_pipeline(self) -> None:
        self.worker("compilation_jobs", "compiler")
        self.worker("compilation_results", "consumer")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def processes(database_url):
    procs = Processes(database_url)
    yield procs
    procs.stop_all()


def wait_for(predicate, timeout=30.0, interval=0.05):
    """Poll until predicate() is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)
