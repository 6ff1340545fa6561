"""Runs the Procfile's processes for `make run` and keeps them running.

A process that dies is restarted after a backoff (1 s, doubling to 30 s; back to 1 s once it has
stayed up for a minute) while the others keep running. Everything stops on SIGTERM/SIGINT, or
when one process dies within seconds of every start (it would never come up: say so and stop).
Each line a process prints is shown as `HH:MM:SS name | line`.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from infra.processes import kill_group, signal_group
from infra.stopping import StopSignals

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
EARLY_DEATH_S = 5.0
EARLY_DEATHS_TO_GIVE_UP = 5
STOP_TIMEOUT_S = 15.0


def read_procfile(path: Path) -> dict[str, str]:
    """The `name: command` entries of a Procfile, in file order (ValueError on a bad line)."""
    entries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not command.strip():
            raise ValueError(f"{path}: cannot parse Procfile line {line!r}; expected 'name: command'")
        entries[name.strip()] = command.strip()
    return entries


def long_running(entries: dict[str, str]) -> dict[str, str]:
    """The entries that run for good: `release` (migrations, once per deploy) is not one of them."""
    return {name: command for name, command in entries.items() if name != "release"}


@dataclass
class Child:
    name: str
    command: str
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff_s: float = FIRST_BACKOFF_S
    restart_at: float | None = None
    early_deaths: int = 0
    reader: threading.Thread | None = None


class Supervisor:
    def __init__(
        self, commands: dict[str, str], *, env: dict[str, str], cwd: Path, signals: StopSignals | None = None
    ) -> None:
        self.children = [Child(name, command) for name, command in commands.items()]
        self.env = env
        self.cwd = cwd
        self.width = max(len(name) for name in commands)
        # Set from a signal handler: a plain flag the loop polls, never a lock (infra/stopping.py).
        self.signals = signals or StopSignals()
        self._print_lock = threading.Lock()

    def say(self, name: str, text: str) -> None:
        with self._print_lock:
            sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {text}\n")
            sys.stdout.flush()

    def stop(self) -> None:
        """Ask `run` to stop everything (safe from a signal handler: it only sets a flag)."""
        self.signals.requested = True

    def run(self) -> int:
        """Start every process and supervise until stopped; 0 on a requested stop."""
        for child in self.children:
            if self.signals.requested:
                break
            self._start(child)
        code = 0
        while not self.signals.sleep(0.2):
            if not self._supervise(time.monotonic()):
                code = 1
                break
        self._stop_all()
        return code

    def _supervise(self, now: float) -> bool:
        """Restart what is due; False when a process keeps dying at start."""
        for child in self.children:
            if self.signals.requested:
                return True
            if child.popen is not None and child.popen.poll() is not None:
                if not self._died(child, now):
                    return False
            elif child.popen is None and child.restart_at is not None and now >= child.restart_at:
                self._start(child)
        return True

    def _start(self, child: Child) -> None:
        child.popen = subprocess.Popen(
            shlex.split(child.command),
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it reaches its children
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        self.say("supervisor", f"started {child.name} (pid {child.popen.pid}): {child.command}")
        child.reader = threading.Thread(target=self._relay, args=(child.name, child.popen), daemon=True)
        child.reader.start()

    def _relay(self, name: str, popen: subprocess.Popen) -> None:
        try:
            for raw in iter(popen.stdout.readline, b""):
                self.say(name, raw.decode("utf-8", errors="replace").rstrip("\n"))
        except (OSError, ValueError):
            pass  # the pipe was closed under us: the process is gone

    def _reap(self, child: Child) -> None:
        """Kill what is left of the process group, print its last output, close its pipe."""
        signal_group(child.popen, signal.SIGKILL)
        if child.reader is not None:
            child.reader.join(2.0)
        kill_group(child.popen)

    def _died(self, child: Child, now: float) -> bool:
        """Schedule a restart; False when the process keeps dying at start (give up)."""
        code = child.popen.returncode
        self._reap(child)  # whatever it left behind (e.g. gunicorn's workers)
        lived = now - child.started_at
        child.popen = None
        if lived >= STABLE_AFTER_S:
            child.backoff_s = FIRST_BACKOFF_S
        child.early_deaths = child.early_deaths + 1 if lived < EARLY_DEATH_S else 0
        if child.early_deaths >= EARLY_DEATHS_TO_GIVE_UP:
            self.say(
                "supervisor",
                f"{child.name} died {child.early_deaths} times within {EARLY_DEATH_S:.0f} s of starting "
                f"(last exit code {code}); stopping everything: see its output above",
            )
            return False
        child.restart_at = now + child.backoff_s
        self.say(
            "supervisor",
            f"{child.name} exited with code {code} after {lived:.1f} s; "
            f"restarting in {child.backoff_s:.0f} s",
        )
        child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)
        return True

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.popen is not None and c.popen.poll() is None]
        for child in running:
            try:
                os.killpg(child.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in running:
            try:
                child.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("supervisor", f"{child.name} did not stop within {STOP_TIMEOUT_S:.0f} s; killing it")
            self._reap(child)
