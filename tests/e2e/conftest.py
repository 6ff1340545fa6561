"""Fixtures for the e2e tests: a PostgreSQL server of their own (it may be restarted)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.conftest import with_database


class OwnServer:
    """An embedded PostgreSQL only this test module uses, so it may be stopped and restarted."""

    def __init__(self) -> None:
        from infra.embedded_postgres import start_embedded

        self.data_dir = Path(tempfile.mkdtemp(prefix="pnil-e2e-own-pg-"))
        self.data_dir.chmod(0o755)
        self.server = start_embedded(self.data_dir)
        self.url = self.server.get_uri()

    def database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.url, name)

    def pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", *args], pgdata=self.server.pgdata, user=self.server.system_user)

    def stop(self) -> None:
        """Stop the server the way an operator's restart does (connections are cut)."""
        self.pg_ctl("stop", "-m", "fast")

    def start(self) -> None:
        """Start it again on the same socket."""
        socket_dir = conninfo_to_dict(self.url)["host"]
        log = str(self.data_dir / "restart.log")
        self.pg_ctl("-o", '-h ""', "-o", f"-k {socket_dir}", "-l", log, "start")

    def close(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def own_server():
    server = OwnServer()
    yield server
    server.close()
