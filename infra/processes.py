"""Child processes that run in their own process group, and stopping all of such a group."""

from __future__ import annotations

import os
import signal
import subprocess


def signal_group(popen: subprocess.Popen, signum: int) -> None:
    """Send a signal to the child's whole process group; a group that is already gone is fine."""
    try:
        os.killpg(popen.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(popen: subprocess.Popen, *, wait_s: float = 5.0) -> bool:
    """SIGKILL the child's process group, close its pipes, reap it; False if it would not die."""
    signal_group(popen, signal.SIGKILL)
    for stream in (popen.stdin, popen.stdout, popen.stderr):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        popen.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        return False
    return True
