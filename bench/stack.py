"""A throwaway pnil deployment for benchmarks: PostgreSQL, migrations and the Procfile processes."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench import BenchError
from infra.processes import signal_group
from infra.supervisor import read_procfile
from migrations import apply_migrations

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROCFILE = PROJECT_ROOT / "Procfile"
STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_database_url(env: Mapping[str, str] | None = None) -> str | None:
    """DATABASE_URL from the environment, or None for a throwaway embedded server (entry points only)."""
    url = (os.environ if env is None else env).get("DATABASE_URL", "").strip()
    return url or None


@contextmanager
def throwaway_database(database_url: str | None = None) -> Iterator[str]:
    """Yield a migrated database: `database_url` when given, else a fresh embedded PostgreSQL."""
    if database_url:
        apply_migrations(database_url)
        yield database_url
        return
    from infra.embedded_postgres import start_embedded

    # Not a private temp dir: the server runs as the `pgserver` user, which must traverse it.
    data_dir = Path(tempfile.mkdtemp(prefix="pnil-bench-pg-"))
    data_dir.chmod(0o755)
    server = start_embedded(data_dir)
    try:
        url = server.get_uri()
        apply_migrations(url)
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(kw_only=True, slots=True)
class _Process:
    name: str
    command: str
    popen: subprocess.Popen
    log_path: Path


class Stack:
    """Context manager: a database plus the named Procfile processes, healthy on `base_url`.

    Usage: `with Stack(processes=("web", "compiler", "consumer")) as stack: stack.base_url`.
    """

    def __init__(
        self,
        processes: Sequence[str] = ("web", "compiler", "consumer"),
        *,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        database_url: str | None = None,
        procfile: Path = PROCFILE,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        try:
            commands = read_procfile(procfile)
        except ValueError as exc:
            raise BenchError(str(exc)) from exc
        unknown = [p for p in processes if p not in commands]
        if unknown:
            raise BenchError(f"no Procfile entry for {unknown}; {procfile} has {sorted(commands)}")
        self.commands = {name: commands[name] for name in processes}
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(extra_env or {})
        self.startup_timeout_s = startup_timeout_s
        self.database_url = ""
        # Created on entry, so a Stack that is never entered leaves nothing behind.
        self.log_dir = Path(tempfile.gettempdir()) / "pnil-bench-logs-unstarted"
        self._given_database_url = database_url
        self._database_cm = None
        self._procs: list[_Process] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        self.log_dir = Path(tempfile.mkdtemp(prefix="pnil-bench-logs-"))
        self._database_cm = throwaway_database(self._given_database_url)
        self.database_url = self._database_cm.__enter__()
        try:
            env = self._process_env()
            for name, command in self.commands.items():
                self._spawn(name, command, env)
            self._wait_ready()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_processes()
        if self._database_cm is not None:
            self._database_cm.__exit__(exc_type, exc, tb)
            self._database_cm = None
        if exc_type is None:
            shutil.rmtree(self.log_dir, ignore_errors=True)
        else:
            print(f"bench stack: process logs kept in {self.log_dir}", file=sys.stderr, flush=True)

    # -- logs ----------------------------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        """Where process `name` writes its stdout and stderr."""
        return self.log_dir / f"{name}.log"

    def log_events(self, name: str, event: str | None = None) -> list[dict]:
        """The JSON log records process `name` wrote so far (only those named `event` if given)."""
        records = []
        path = self.log_path(name)
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if event is None or record.get("event") == event:
                records.append(record)
        return records

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines process `name` wrote, for error messages."""
        path = self.log_path(name)
        if not path.exists():
            return "(no output)"
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    # -- internals -----------------------------------------------------------------------------
    def _process_env(self) -> dict[str, str]:
        env = dict(os.environ)
        venv_bin = str(Path(sys.executable).parent)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "PORT": str(self.port),
                "PNIL_ALLOW_ANONYMOUS": "1",
                "PYTHONUNBUFFERED": "1",
                "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
            }
        )
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, command: str, env: dict[str, str]) -> None:
        log_path = self.log_path(name)
        with open(log_path, "ab") as log:
            # Own session (process group) so stopping also reaches gunicorn's workers and node.
            popen = subprocess.Popen(
                shlex.split(command),
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs.append(_Process(name=name, command=command, popen=popen, log_path=log_path))

    def _check_alive(self) -> None:
        for proc in self._procs:
            code = proc.popen.poll()
            if code is not None:
                raise BenchError(
                    f"process {proc.name!r} ({proc.command}) exited with code {code} during startup; "
                    f"its last output:\n{self.log_tail(proc.name)}"
                )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        pending_workers = {p.name for p in self._procs if " broker worker " in f" {p.command} "}
        web_ready = "web" not in self.commands
        while not (web_ready and not pending_workers):
            self._check_alive()
            if time.monotonic() > deadline:
                waiting = sorted(pending_workers) + ([] if web_ready else ["web (/health)"])
                raise BenchError(
                    f"the stack was not ready within {self.startup_timeout_s:.0f}s; still waiting for "
                    f"{waiting}; logs in {self.log_dir}"
                )
            if not web_ready:
                web_ready = self._healthy()
            pending_workers = {n for n in pending_workers if not self.log_events(n, "worker.started")}
            time.sleep(0.05)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _stop_processes(self) -> None:
        for proc in self._procs:
            signal_group(proc.popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self._procs:
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"bench stack: {proc.name} ignored SIGTERM; killing it", file=sys.stderr, flush=True)
            # Kill leftovers of the group too (a gunicorn worker or node child that outlived its parent).
            signal_group(proc.popen, signal.SIGKILL)
            proc.popen.wait()
        self._procs.clear()


def executor_stack() -> Stack:
    """Web, the compile pipeline and the executor, on DATABASE_URL or a throwaway database."""
    return Stack(processes=("web", "compiler", "consumer", "executor"), database_url=env_database_url())
