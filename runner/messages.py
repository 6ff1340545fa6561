"""User-facing messages shared by every language's runner (child) and the pool (parent)."""

from __future__ import annotations

from runner.contract import Limits


def timeout_message(limits: Limits) -> str:
    """A run hit its wall-time limit."""
    return (
        f"execution exceeded the time limit of {limits.max_execution_time_ms} ms "
        "(maxExecutionTimeMs); make the function faster or raise the limit"
    )


def memory_message(limits: Limits) -> str:
    """A run needed more memory than its limit."""
    return (
        f"out of memory: the function needed more than the memory limit of "
        f"{limits.max_memory_bytes} bytes (maxMemoryBytes); use less memory or raise the limit"
    )


def output_too_large_message(size: int, limits: Limits, *, at_least: bool = False) -> str:
    """A run returned more JSON than its output limit."""
    amount = f"at least {size}" if at_least else str(size)
    return (
        f"output is {amount} bytes, over the maxOutputSizeBytes limit of "
        f"{limits.max_output_size_bytes} bytes; return less data or raise the limit"
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
