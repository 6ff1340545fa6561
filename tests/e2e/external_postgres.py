"""A stand-alone PostgreSQL as an operator runs one: Debian's server package, the `postgres`
system user, a free TCP port with password authentication, a database owned by a plain role."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.e2e.hosts import free_port

OWNER, PASSWORD, DATABASE = "pnil_owner", "owner-secret", "pnil"


def as_postgres(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a command as the `postgres` system user (root: runuser; else sudo)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else ["sudo", "-n", "-u", "postgres"]
    return subprocess.run([*prefix, *argv], check=True, capture_output=True, text=True, **kwargs)


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def install_server() -> str | None:
    """Install Debian's `postgresql` when missing; None when it is there, else why it cannot be."""
    if server_binaries() is not None:
        return None
    if shutil.which("apt-get") is None:
        return "apt-get is not available on this machine"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        done = subprocess.run([*sudo, *argv], env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"`{' '.join(argv)}` failed: {done.stderr.strip()[-500:]}"
    return None if server_binaries() is not None else "the postgresql package installed no server"


class ExternalPostgres:
    """initdb + pg_ctl as `postgres` in a temporary directory; `url` is the plain role's DSN."""

    def __init__(self) -> None:
        self.bin = server_binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="pnil-external-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")
        as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth-local=peer", "--auth-host=scram-sha-256", "--no-instructions",
        )  # fmt: skip
        as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100",
            "start",
        )  # fmt: skip
        self.url = f"postgresql://{OWNER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def psql(self, sql: str) -> str:
        """Run SQL as the `postgres` superuser over the local socket (what an operator does once)."""
        argv = [str(self.bin / "psql"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres"]
        return as_postgres(*argv, "-v", "ON_ERROR_STOP=1", "-tAc", sql).stdout.strip()

    def create_owner_and_database(self) -> None:
        """The README's setup: a login role without any special attribute owning the database."""
        self.psql(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{PASSWORD}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {OWNER}")

    def stop(self) -> None:
        try:
            as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
