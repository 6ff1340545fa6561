"""`make run`'s program from the outside: embedded Postgres, every process, a healthy API, clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method: str, url: str, body: dict | None = None, key: str | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def wait_until(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout}s")


def started_pids(log_path: Path, name: str) -> list[int]:
    """Pids of `name` the supervisor reported starting, in order."""
    text = log_path.read_text(errors="replace")
    return [int(m) for m in re.findall(rf"started {name} \(pid (\d+)\)", text)]


def test_local_run_serves_registers_compiles_executes_heals_and_stops():
    data_dir = Path(tempfile.mkdtemp(prefix="pnil-e2e-pg-"))
    data_dir.chmod(0o755)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    local_dir = data_dir.parent / f"{data_dir.name}-local"
    env = {k: v for k, v in env.items() if k not in ("PNIL_ALLOW_ANONYMOUS", "PNIL_SECRET_KEY", "HOST")}
    env.update(
        PNIL_PGDATA=str(data_dir),
        PORT=str(port),
        WEB_CONCURRENCY="1",
        PNIL_LOCAL_DIR=str(local_dir),
        XDG_CONFIG_HOME=str(data_dir / "xdg"),
    )
    server_file = data_dir / "xdg" / "pnil" / "local-server.json"
    out = open(data_dir.parent / f"{data_dir.name}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "localrun"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: call("GET", f"{base}/health") == (200, {"status": "UP"}), 90)
        log_path = data_dir.parent / f"{data_dir.name}.log"
        wait_until(lambda: "==> pnil is up" in log_path.read_text(errors="replace"), 30)
        assert json.loads(server_file.read_text())["url"] == base
        status, fn = call(
            "POST",
            f"{base}/functions",
            {
                "name": "echo",
                "language": "assemblyscript",
                "source": "export function handle(input: string): string { return input; }",
            },
        )
        assert status == 201 and fn["status"] == "PENDING"
        wait_until(lambda: call("GET", f"{base}/functions/{fn['id']}")[1]["status"] == "READY", 60)
        status, execution = call("POST", f"{base}/functions/{fn['id']}/execute", {"input": {"hi": "✓"}})
        assert (status, execution["status"], execution["output"]) == (200, "COMPLETED", {"hi": "✓"})
        # Anonymous local access is never admin; the operator's key, kept private, is.
        assert call("GET", f"{base}/admin/queues")[0] == 403
        key_file = local_dir / "admin-key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert (local_dir / "secret-key").stat().st_mode & 0o777 == 0o600
        status, queues = call("GET", f"{base}/admin/queues", key=key_file.read_text().strip())
        assert status == 200 and {q["queue"] for q in queues} >= {"compilation_jobs", "compilation_results"}

        # kill -9 of one process: it is back and serving within 10 s; the others never stopped.
        compiler_pid = started_pids(log_path, "compiler")[0]
        os.kill(compiler_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        status, again = call(
            "POST",
            f"{base}/functions",
            {"name": "after-kill", "language": "javascript", "source": "function handle(i) { return 2; }"},
        )
        assert status == 201
        while call("GET", f"{base}/functions/{again['id']}")[1]["status"] != "READY":
            assert call("GET", f"{base}/health")[0] == 200  # the web process kept serving
            # A bound, not a timing figure: a loaded machine needs ~15 s to start a warm `asc`.
            assert time.monotonic() - killed_at < 90, log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        assert len(started_pids(log_path, "compiler")) == 2
        assert len(started_pids(log_path, "web")) == len(started_pids(log_path, "consumer")) == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(60)
        out.close()
    log = (data_dir.parent / f"{data_dir.name}.log").read_text(errors="replace")
    assert "anonymous access is ON" in log
    assert f"admin key is in {local_dir / 'admin-key'}" in log
    block = log[log.index("==> pnil is up") :]
    assert f"{base}/console" in block and f"{base}/docs" in block and f"export PNIL_URL={base}" in block
    assert "Running commandline" not in log and "XDG_RUNTIME_DIR" not in log  # pgserver's chatter
    assert not [line for line in log.splitlines() if line.startswith("{")]  # readable lines only
    assert not server_file.exists()  # the CLI no longer finds a stopped server
    assert code == 0, log[-3000:]
    # The embedded server stopped with it.
    assert not (data_dir / "postmaster.pid").exists(), log[-3000:]
