"""PgBouncer in front of PostgreSQL: session mode works, transaction mode is refused at start with a
message that says why (infra/pooler.py detects it; no setting needed). PgBouncer is Debian's package,
installed when missing like the external PostgreSQL's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from infra.pooler import TransactionPooler, refuse_transaction_pooler
from migrations import require_current_schema
from tests.conftest import PROJECT_ROOT, throwaway_database
from tests.e2e.hosts import free_port, wait_until

pytestmark = pytest.mark.slow

PGBOUNCER = "/usr/sbin/pgbouncer"


def install_pgbouncer() -> str | None:
    """Install Debian's `pgbouncer` when missing; None when it is there, else why it cannot be."""
    if shutil.which("pgbouncer") or os.path.exists(PGBOUNCER):
        return None
    if shutil.which("apt-get") is None:
        return "apt-get is not available on this machine"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "pgbouncer"]):
        done = subprocess.run([*sudo, *argv], env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return f"`{' '.join(argv)}` failed: {done.stderr.strip()[-500:]}"
    return None if os.path.exists(PGBOUNCER) else "the pgbouncer package installed no binary"


def answers(url: str, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"pgbouncer exited: {proc.stderr.read().decode(errors='replace')}")
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def pgbouncer(database_url: str, pool_mode: str):
    """PgBouncer on a free TCP port in front of `database_url`'s server (over its socket); yields
    the URL of the same database through it. It runs as the user owning the server's socket
    directory (PgBouncer refuses to run as root)."""
    params = conninfo_to_dict(database_url)
    socket_dir, dbname, user = params["host"], params["dbname"], params.get("user") or "postgres"
    owner = Path(socket_dir).owner()
    work = Path(tempfile.mkdtemp(prefix="pnil-pgbouncer-"))
    port = free_port()
    (work / "users.txt").write_text(f'"{user}" ""\n')
    (work / "pgbouncer.ini").write_text(
        f"[databases]\n{dbname} = host={socket_dir} port={params.get('port') or 5432} dbname={dbname}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {work / 'users.txt'}\n"
        f"pool_mode = {pool_mode}\ndefault_pool_size = 4\nmax_client_conn = 100\n"
        f"logfile = {work / 'pgbouncer.log'}\npidfile = {work / 'pgbouncer.pid'}\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    shutil.chown(work, owner)
    for path in work.iterdir():
        shutil.chown(path, owner)
    prefix = ["runuser", "-u", owner, "--"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([*prefix, PGBOUNCER, str(work / "pgbouncer.ini")], stderr=subprocess.PIPE)
    url = f"postgresql://{user}@127.0.0.1:{port}/{dbname}"
    try:
        wait_until(lambda: answers(url, proc), 20, "pgbouncer answering")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def database(server_url, template_url):
    why_not = install_pgbouncer()
    if why_not is not None:
        pytest.skip(f"PgBouncer is not installed and cannot be: {why_not}")
    with throwaway_database(server_url, prefix="pgbouncer") as url:
        yield url


def test_a_direct_connection_is_accepted(database):
    refuse_transaction_pooler(database, "web")
    require_current_schema(database, "web")


def test_session_mode_is_accepted(database):
    with pgbouncer(database, "session") as bounced:
        require_current_schema(bounced, "executor")


def test_transaction_mode_is_refused_with_a_message_that_says_why(database):
    with pgbouncer(database, "transaction") as bounced:
        with pytest.raises(TransactionPooler) as refused:
            require_current_schema(bounced, "executor")
        message = str(refused.value)
        assert message.startswith("executor: DATABASE_URL leads to a transaction-mode pooler")
        assert "session advisory locks" in message and "pool_mode=session" in message

        # The release step refuses too, before it takes its (session) advisory lock.
        done = subprocess.run(
            [sys.executable, "-m", "migrations"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": bounced, "PYTHONPATH": str(PROJECT_ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0, done.stdout
        assert "release: DATABASE_URL leads to a transaction-mode pooler" in done.stderr, done.stderr[-2000:]
