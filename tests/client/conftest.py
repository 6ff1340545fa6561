"""A real pnil over HTTP (gunicorn, compiler, consumer, executor on real PostgreSQL) with keys."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

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


PNIL = shutil.which("pnil", path=str(Path(sys.executable).parent)) or "pnil"


@pytest.fixture
def pnil(server, tmp_path):
    """Run `pnil ARGS` in tmp_path with the server's URL and key in the environment."""
    env = dict(
        os.environ, PNIL_URL=server.url, PNIL_API_KEY=server.key, PNIL_CONFIG=str(tmp_path / "cfg.json")
    )

    def run(
        *args: str,
        input: str | None = None,  # noqa: A002
        key: str | None = None,
        cwd: Path | None = None,
        **extra_env: str,
    ) -> subprocess.CompletedProcess:
        run_env = dict(env, **extra_env) | ({} if key is None else {"PNIL_API_KEY": key})
        return subprocess.run(
            [PNIL, *args],
            cwd=cwd or tmp_path,
            env={k: v for k, v in run_env.items() if v is not None},
            input=input,
            capture_output=True,
            text=True,
            timeout=180,
        )

    return run


@pytest.fixture
def tenant_key(server):
    """Factory: the key of a new tenant of its own (for tests that look at every function)."""

    def make() -> str:
        with psycopg.connect(server.database_url, autocommit=True) as conn:
            return tenants.create_key(conn, f"t-{uuid.uuid4().hex[:10]}", name="cli test")[1]

    return make
