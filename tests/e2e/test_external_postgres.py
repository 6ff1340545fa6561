"""pnil on a real, separately run PostgreSQL (Debian's package, installed when missing) as a plain
database owner: the release step installs pgmq from its SQL and migrates, then a host works."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg
import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.external_postgres import OWNER, ExternalPostgres, install_server
from tests.e2e.hosts import Host, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def external():
    why_not = install_server()
    if why_not is not None:
        pytest.skip(f"no PostgreSQL server package and it cannot be installed: {why_not}")
    server = ExternalPostgres()
    try:
        server.create_owner_and_database()
        yield server
    finally:
        server.stop()


def test_the_owner_role_has_no_special_privilege(external):
    attributes = external.psql(
        f"SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
        f"FROM pg_roles WHERE rolname = '{OWNER}'"
    )
    assert attributes == "f|f|f|f|f"
    assert external.psql("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgmq'") == "0"


def test_release_then_a_host_registers_executes_queues_and_fires_cron(external):
    release = subprocess.run(
        [sys.executable, "-m", "migrations"],
        cwd=PROJECT_ROOT,
        env={"DATABASE_URL": external.url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert release.returncode == 0, release.stderr[-3000:]
    with psycopg.connect(external.url) as conn:
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'pgmq'"
        ).fetchone()
    assert owner == (OWNER,)  # pgmq came from its SQL, installed by the database owner

    host = Host("external", external.url, PNIL_SCHEDULER_SPEED="60").start()
    try:
        host.wait_ready()
        body = {"name": "echo", "language": "javascript", "source": "function handle(i) { return i; }"}
        status, fn = host.call("POST", "/functions", body)
        assert status == 201, fn
        wait_until(lambda: host.call("GET", f"/functions/{fn['id']}")[1]["status"] == "READY", 60, "READY")
        status, run = host.call("POST", f"/functions/{fn['id']}/execute", {"input": {"x": 1}})
        assert (status, run["output"]) == (200, {"x": 1})
        status, queued = host.call("POST", f"/functions/{fn['id']}/executions", {"input": {"q": 1}})
        assert status == 202
        wait_until(
            lambda: host.call("GET", f"/executions/{queued['id']}")[1]["status"] == "COMPLETED", 60, "queued"
        )
        cron = {
            **body,
            "name": f"cron-{uuid.uuid4().hex[:6]}",
            "type": "SCHEDULED",
            "cronExpression": "* * * * *",
        }
        status, scheduled = host.call("POST", "/functions", cron)
        assert status == 201, scheduled
        wait_until(
            lambda: [
                e for e in host.call("GET", f"/functions/{scheduled['id']}/executions")[1]
                if e["triggerType"] == "CRON" and e["status"] == "COMPLETED"
            ],
            60,
            "a cron execution",
        )  # fmt: skip
    finally:
        code = host.stop()
    assert code == 0, host.log()[-3000:]
