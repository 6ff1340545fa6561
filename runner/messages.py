"""User-facing messages shared by the sandbox (child) and the pool (parent)."""

from __future__ import annotations

from runner.contract import Limits


def timeout_message(limits: Limits) -> str:
    """A run hit its wall-time limit."""
    return (
        f"execution exceeded the time limit of {limits.max_execution_time_ms} ms "
        "(maxExecutionTimeMs); make the function faster or raise the limit"
    )


def memory_message(limits: Limits) -> str:
    """A run needed more linear memory than its limit."""
    return (
        f"memory limit of {limits.max_memory_bytes} bytes exceeded (maxMemoryBytes); "
        "use less memory or raise the limit"
    )


def died_message(returncode: int | None) -> str:
    """The subprocess running the execution died under it."""
    import signal

    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        cause = f"signal {-returncode}, {name}"
    elif returncode is None:
        cause = "exit status unknown"
    else:
        cause = f"exit status {returncode}"
    return (
        f"runner subprocess died ({cause}) while running this execution; the platform "
        "started a new one, retry the execution (if it keeps failing the function may be "
        "exhausting the host's memory)"
    )
