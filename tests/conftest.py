"""Shared fixtures: a real PostgreSQL with pgmq, a migrated template cloned for every test."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from infra.listener import close_process_listeners
from migrations import apply_migrations

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "pnil_test_template"


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_url() -> str:
    """A PostgreSQL server: PNIL_TEST_DATABASE_URL, else a throwaway embedded one."""
    url = os.environ.get("PNIL_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from infra.embedded_postgres import start_embedded

    # Not under pytest's tmp dir: that is private to root and the server runs as another user.
    data_dir = Path(tempfile.mkdtemp(prefix="pnil-test-pg-"))
    data_dir.chmod(0o755)
    server = start_embedded(data_dir)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET max_connections = 300")
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(server_url) -> str:
    """A database with every migration applied, used as the template of per-test databases."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    url = with_database(server_url, TEMPLATE)
    apply_migrations(url)
    return url


@contextmanager
def throwaway_database(server_url: str, *, template: str | None = TEMPLATE, prefix: str = "t"):
    """A new database (a copy of the migrated template, or empty), dropped on exit; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield with_database(server_url, name)
    finally:
        close_process_listeners(name)  # what this test process's apps listened on
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(server_url, template_url) -> str:
    """A fresh migrated database for one test, dropped afterwards."""
    with throwaway_database(server_url) as url:
        yield url


@pytest.fixture
def db(database_url):
    """An autocommit connection to the test's database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def pytest_unconfigure(config):
    # pgserver logs "exiting ..." from an atexit hook, after pytest closed the streams the test
    # log handlers write to; with no handler of its own that INFO line is simply dropped.
    logging.getLogger("pgserver").propagate = False
