"""A real pnil over HTTP (gunicorn, compiler, consumer, executor on real PostgreSQL) with keys."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest

from bench.stack import Stack
from infra.secretbox import new_key
from store import tenants
from tests.conftest import throwaway_database


@dataclass(frozen=True)
class Server:
    url: str
    database_url: str
    admin_key: str
    key: str  # tenant "acme"
    stack: Stack


@pytest.fixture(scope="package")
def server(server_url, template_url, tmp_path_factory):
    metrics_dir = tmp_path_factory.mktemp("metrics")
    with throwaway_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            admin_key = tenants.create_key(conn, "ops", name="admin", admin=True)[1]
            key = tenants.create_key(conn, "acme", name="acme")[1]
        # Two gunicorn workers and the executor share one metrics directory, as under `make run`.
        env = {
            "PNIL_ALLOW_ANONYMOUS": "0",
            "PNIL_SECRET_KEY": new_key(),
            "WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        processes = ("web", "compiler", "consumer", "executor")
        with Stack(processes, database_url=url, extra_env=env) as stack:
            yield Server(stack.base_url, url, admin_key, key, stack)
