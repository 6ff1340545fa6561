"""The real gunicorn refuses anonymous access on an address other machines reach."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.conftest import PROJECT_ROOT
from tests.integration.conftest import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(database_url: str, **extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PNIL_ALLOW_ANONYMOUS")}
    env.update(DATABASE_URL=database_url, PORT=str(free_port()), WEB_CONCURRENCY="1", **extra)
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "web.app:create_app()"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_anonymous_access_on_a_public_bind_is_refused_at_start(database_url):
    proc = gunicorn(database_url, HOST="0.0.0.0", PNIL_ALLOW_ANONYMOUS="1")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "refusing to start: anonymous access is on" in out and "HOST=127.0.0.1" in out


def test_the_explicit_setting_starts_it_with_a_loud_warning(database_url, tmp_path):
    proc = gunicorn(database_url, HOST="0.0.0.0", PNIL_ALLOW_ANONYMOUS="1", PNIL_ALLOW_ANONYMOUS_REMOTE="1")
    lines: list[str] = []
    try:
        wait_for(lambda: lines.append(proc.stdout.readline()) or "Booting worker" in lines[-1], timeout=60)
    finally:
        proc.terminate()
        proc.wait(30)
    text = "".join(lines)
    assert text.count("ANYONE who can reach it acts as tenant 'default'") == 3


def test_keys_only_on_a_public_bind_start(database_url):
    proc = gunicorn(database_url, HOST="0.0.0.0", PNIL_ALLOW_ANONYMOUS="0")
    lines: list[str] = []
    try:
        wait_for(lambda: lines.append(proc.stdout.readline()) or "Booting worker" in lines[-1], timeout=60)
    finally:
        proc.terminate()
        proc.wait(30)
    assert "ANYONE" not in "".join(lines)
