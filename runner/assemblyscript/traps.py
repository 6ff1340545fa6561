"""Turning wasmtime traps and errors into the user-facing outcome of a run."""

from __future__ import annotations

import wasmtime

from runner.assemblyscript.abi import GuestMemory
from runner.contract import Limits, RunStatus
from runner.errors import GuestFailure
from runner.messages import memory_message, timeout_message

# memory.grow 0; i32.const 0; i32.lt_s: the test AssemblyScript makes after growing memory.
_GROW_FAILED_PATTERN = bytes([0x40, 0x00, 0x41, 0x00, 0x48])


def timeout_failure(limits: Limits) -> GuestFailure:
    """The failure of a run that hit its wall-time limit."""
    return GuestFailure(timeout_message(limits), RunStatus.TIMEOUT)


def memory_failure(limits: Limits) -> GuestFailure:
    """The failure of a run that needed more linear memory than allowed."""
    return GuestFailure(memory_message(limits))


def failure_from_trap(
    trap: wasmtime.Trap, limits: Limits, memory: GuestMemory | None, artifact: bytes = b""
) -> GuestFailure:
    """Map a trap to TIMEOUT, a memory or stack failure, or a FAILED run with its message."""
    code = trap.trap_code
    if code == wasmtime.TrapCode.INTERRUPT:
        return timeout_failure(limits)
    if code == wasmtime.TrapCode.STACK_OVERFLOW:
        return GuestFailure("stack overflow (runaway recursion?)")
    if code == wasmtime.TrapCode.UNREACHABLE and _memory_exhausted(trap, limits, memory, artifact):
        return memory_failure(limits)
    message = _first_line(trap.message)
    if not message.startswith("wasm trap"):
        message = f"wasm trap: {message}"
    return GuestFailure(message)


def failure_from_error(error: wasmtime.WasmtimeError, limits: Limits) -> GuestFailure:
    """Map a wasmtime error (mostly at instantiation) to a FAILED run."""
    text = str(error)
    if "memory" in text and ("limit" in text or "exceeds" in text):
        return memory_failure(limits)
    return GuestFailure(f"cannot run module: {_first_line(text)}")


def _memory_exhausted(
    trap: wasmtime.Trap, limits: Limits, memory: GuestMemory | None, artifact: bytes
) -> bool:
    # AssemblyScript's allocator executes `unreachable` right after a failed memory.grow
    # (`if (memory.grow(n) < 0) unreachable()`); wasmtime exposes no limiter callback, so
    # the code around the trapping instruction tells. Its growth doubles the memory first
    # and falls back to the exact need, so a failed doubling also leaves it half full.
    frames = trap.frames
    if frames:
        offset = frames[0].module_offset
        if _GROW_FAILED_PATTERN in artifact[max(0, offset - 24) : offset + 8]:
            return True
    if memory is None:
        return False
    return memory.data_len() * 2 >= limits.max_memory_bytes


def _first_line(text: str) -> str:
    # wasmtime puts a backtrace first and the cause ("wasm trap: ...") last.
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    if "Caused by:" in lines:
        return lines[-1]
    return lines[0]
