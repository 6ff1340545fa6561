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

# The same steps as infra/localrun.py around the supervisor: signals first, then run.
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
