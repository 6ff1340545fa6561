"""SIGTERM/SIGINT stop the supervisor (the heart of `make run`) every time, whenever they land."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.hosts import free_port

# The same steps as localrun/__main__.py around the supervisor: signals first, then run.
DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from infra.stopping import StopSignals
    from infra.supervisor import Supervisor

    signals = StopSignals().install()
    commands = {
        "sleeper": "sleep 300",
        "chatty": "sh -c 'while :; do echo tick; sleep 0.01; done'",
        "python": sys.executable + " -c 'import time; time.sleep(300)'",
    }
    sys.exit(Supervisor(commands, env={"PATH": "/usr/bin:/bin"}, cwd=Path("."), signals=signals).run())
    """
)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("round_", range(24))
def test_a_signal_at_a_random_moment_stops_everything(round_, tmp_path):
    rng = random.Random(round_)
    signum = rng.choice([signal.SIGTERM, signal.SIGINT])
    log_path = tmp_path / "supervisor.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Anywhere from the interpreter's start to well into supervising the children.
        time.sleep(rng.uniform(0.05, 0.9))
        os.kill(proc.pid, signum)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log = log_path.read_text(errors="replace")
    children = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", log)]
    assert [pid for pid in children if alive(pid)] == [], log[-2000:]
    if children:  # the handlers were in place: a requested stop is a clean exit
        assert code == 0, log[-2000:]


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group (a supervised process and what it started)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(4))
def test_make_run_stops_with_everything_it_started_whenever_the_signal_lands(round_, database_url, tmp_path):
    rng = random.Random(1000 + round_)
    signum = rng.choice([signal.SIGTERM, signal.SIGINT])
    log_path = tmp_path / "run.log"
    env = {**os.environ, "DATABASE_URL": database_url, "PORT": str(free_port()), "WEB_CONCURRENCY": "1"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localrun"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # From migrating to starting the processes to all of them running.
    time.sleep(rng.uniform(0.5, 8.0))
    os.kill(proc.pid, signum)
    try:
        code = proc.wait(60)
    finally:
        log = log_path.read_text(errors="replace")
        groups = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", log)]
        leftovers = {pgid: group_members(pgid) for pgid in groups if group_members(pgid)}
        for pgid in [proc.pid, *leftovers]:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert leftovers == {}, log[-3000:]
    assert code == 0, log[-3000:]
