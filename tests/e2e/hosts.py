"""A "host" for the tests: one complete Procfile process set (`python -m localrun` with a
DATABASE_URL) with its own port, metrics directory and runner pools, against a shared PostgreSQL."""

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
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import PROJECT_ROOT

PROCESSES = ("web", "compiler", "consumer", "executor", "scheduler")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str = "condition"):
    """Poll until predicate() is truthy (connection errors count as not yet); returns its value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


# The default host shape (infra.budget.Host): two gunicorn workers.
WEB_CONCURRENCY = 2


class Host:
    """A process set started by the supervisor of `make run`, on an existing database."""

    def __init__(self, name: str, database_url: str, **env: str) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"pnil-host-{name}-"))
        self.log_path = self.dir / "host.log"
        self.metrics_dir = self.dir / "metrics"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PNIL_")}
        self.env.update(
            DATABASE_URL=database_url,
            PORT=str(self.port),
            PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir),
            WEB_CONCURRENCY=str(WEB_CONCURRENCY),
            PNIL_ALLOW_ANONYMOUS="1",
            PNIL_LOG_FORMAT="json",
            PYTHONPATH=str(PROJECT_ROOT),
            **env,
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> Host:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "localrun"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 90) -> Host:
        wait_until(lambda: self.call("GET", "/health")[0] == 200, timeout, f"host {self.name} /health")
        wait_until(lambda: set(self.pids()) == set(PROCESSES), timeout, f"host {self.name} processes")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> dict[str, list[int]]:
        """Pids the supervisor reported starting, per process name, in order."""
        found: dict[str, list[int]] = {}
        for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", self.log()):
            found.setdefault(name, []).append(int(pid))
        return found

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                ctype = resp.headers.get("Content-Type", "")
                return resp.status, json.loads(raw or b"null") if "json" in ctype else raw.decode()
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw or b"null")
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def pause(self, process: str) -> None:
        """SIGSTOP one process of the host (with its subprocesses): it takes no work meanwhile."""
        os.killpg(self.pids()[process][-1], signal.SIGSTOP)

    def resume(self, process: str) -> None:
        os.killpg(self.pids()[process][-1], signal.SIGCONT)

    def started(self, execution_id: str) -> int:
        """How many times this host's log says the execution started."""
        return sum(
            1 for line in self.log().splitlines() if "execution.started" in line and execution_id in line
        )

    def kill_everything(self) -> None:
        """kill -9 of every process of the host at once (the supervisor first: nothing restarts)."""
        groups = [pids[-1] for pids in self.pids().values()]
        os.kill(self.proc.pid, signal.SIGKILL)
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM without waiting (stop several hosts at once, then `stop` each)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.terminate()
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            for pids in self.pids().values():
                try:
                    os.killpg(pids[-1], signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise
