"""The host side of a QuickJS run: WASI with captured output and a deadline-bounded sleep.

wasmtime's WASI provides the imports, with no preopened directory, no environment and no
arguments. Three of them are replaced: ``fd_write``, so that fd 1 (logs) and fd 2 (QuickJS
diagnostics and the wrapper's result envelope) land in capped in-memory buffers and host API
calls on fd 2 go to the run's HostChannel; ``fd_read``, whose fd 0 yields the answer of the last
call; and ``poll_oneoff``, because a host-side sleep cannot be interrupted by the epoch deadline:
our sleep never outlasts the run's deadline, after which the guest traps on re-entry.
"""

from __future__ import annotations

import ctypes
import struct
import time

import wasmtime

from runner.javascript.wrapper import CALL_MARK_BYTES
from runner.sandbox.host_channel import HostChannel

WASI = "wasi_snapshot_preview1"
_EBADF, _EFAULT, _EINVAL = 8, 21, 28
_I32 = wasmtime.ValType.i32()
_IOVEC = struct.Struct("<II")
_U32 = struct.Struct("<I")
# The hot calls' success, made once: wasmtime converts a returned Val faster than an int.
_SUCCESS = wasmtime.Val.i32(0)
_SUBSCRIPTION = struct.Struct("<QB7xIxxxxQQH6x")  # 48 bytes: userdata, tag, clock id/timeout/…
_EVENT = struct.Struct("<QHB21x")  # 32 bytes: userdata, error, type
_CLOCK_ABSTIME = 1


class RunChannels:
    """The output of one run: logs (fd 1) and diagnostics plus result (fd 2), both capped."""

    __slots__ = (
        "logs",
        "stderr",
        "log_limit",
        "stderr_limit",
        "logs_truncated",
        "deadline",
        "host",
        "call",
        "answer",
        "memory",
        "view",
    )

    def __init__(
        self, *, log_limit: int, stderr_limit: int, deadline: float, host: HostChannel | None = None
    ) -> None:
        self.logs = bytearray()
        self.stderr = bytearray()
        self.log_limit = log_limit
        self.stderr_limit = stderr_limit
        self.logs_truncated = False
        self.deadline = deadline  # time.monotonic() value
        self.host = host
        self.call: bytearray | None = None  # a host call being written
        self.answer = b""  # the last call's answer line, read from fd 0
        self.memory: wasmtime.Memory | None = None  # the run's instance's (one per run), looked up once
        self.view: tuple[int, int, memoryview] | None = None  # (address, size, a view of the memory)

    def write_stderr(self, data: bytes) -> None:
        """Diagnostics are kept (capped); a host call is carried out when its line is complete."""
        while data:
            if self.call is None:
                at = data.find(CALL_MARK_BYTES)
                head = data if at < 0 else data[:at]
                kept = self.room(2, len(head))
                if kept:
                    self.keep(2, head[:kept])
                if at < 0:
                    return
                self.call = bytearray()
                data = data[at + len(CALL_MARK_BYTES) :]
                continue
            end = data.find(b"\n")
            if end < 0:
                self.call += data
                return
            self.call += data[:end]
            request, self.call = bytes(self.call), None
            self.answer = self._answer(request) + b"\n"
            data = data[end + 1 :]

    def _answer(self, request: bytes) -> bytes:
        if self.host is None:
            return b'{"error": "the host API is not available here (e.g. at the top level while compiling)"}'
        return self.host.call_raw(request)

    def read_answer(self, size: int) -> bytes:
        chunk, self.answer = self.answer[:size], self.answer[size:]
        return chunk

    def room(self, fd: int, length: int) -> int:
        """How many of ``length`` bytes written to ``fd`` are kept."""
        if fd == 1:
            free = self.log_limit - len(self.logs)
            if length > free:
                self.logs_truncated = True
            return max(0, min(length, free))
        return max(0, min(length, self.stderr_limit - len(self.stderr)))

    def keep(self, fd: int, data: bytes) -> None:
        """Append bytes that ``room`` allowed."""
        (self.logs if fd == 1 else self.stderr).extend(data)


class ChannelSlot:
    """Which run's channels the host functions write to (one run at a time per runner)."""

    __slots__ = ("channels",)

    def __init__(self) -> None:
        self.channels: RunChannels | None = None


def _guest_memory(caller: wasmtime.Caller, channels: RunChannels) -> memoryview:
    """The guest's linear memory as a writable view, made again whenever it moved or grew.

    Every host call crosses it twice (the call out, the answer in): a view costs far less per
    access than Memory.read/write or ctypes.string_at, each a call through ctypes into wasmtime.
    """
    memory = channels.memory
    if memory is None:
        memory = caller["memory"]
        assert isinstance(memory, wasmtime.Memory)
        channels.memory = memory
    address = ctypes.addressof(memory.data_ptr(caller).contents)
    size = memory.data_len(caller)
    view = channels.view
    if view is None or view[0] != address or view[1] != size:
        view = channels.view = (
            address,
            size,
            memoryview((ctypes.c_ubyte * size).from_address(address)).cast("B"),
        )
    return view[2]


def make_linker(engine: wasmtime.Engine, slot: ChannelSlot) -> wasmtime.Linker:
    """A Linker with WASI whose output and sleeping go through ``slot``'s current run."""
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    linker.allow_shadowing = True

    def fd_write(caller: wasmtime.Caller, fd: int, iovs: int, count: int, written: int) -> int:
        channels = slot.channels
        if channels is None or fd not in (1, 2):
            return _EBADF
        memory = _guest_memory(caller, channels)
        size = len(memory)
        if iovs < 0 or count < 0 or iovs + 8 * count > size or not 0 <= written <= size - 4:
            return _EFAULT
        total = 0
        for index in range(count):
            ptr, length = _IOVEC.unpack_from(memory, iovs + 8 * index)
            if ptr + length > size:
                return _EFAULT
            if fd == 2:
                channels.write_stderr(memory[ptr : ptr + length].tobytes())
            else:
                kept = channels.room(fd, length)
                if kept:
                    channels.keep(fd, memory[ptr : ptr + kept])
            total += length
        # Dropped bytes count as written: the guest must not retry what the cap discarded.
        _U32.pack_into(memory, written, total)
        return _SUCCESS

    def poll_oneoff(caller: wasmtime.Caller, subs: int, events: int, count: int, out: int) -> int:
        channels = slot.channels
        memory = caller["memory"]
        assert isinstance(memory, wasmtime.Memory)
        size = memory.data_len(caller)
        if count <= 0 or subs + 48 * count > size or events + 32 * count > size or out + 4 > size:
            return _EINVAL
        raw = memory.read(caller, subs, subs + 48 * count)
        waits = []
        for index in range(count):
            userdata, tag, clock, timeout, _precision, flags = _SUBSCRIPTION.unpack_from(raw, 48 * index)
            if tag != 0:
                waits.append((userdata, tag, 0.0))  # fd readiness: nothing is ever readable
                continue
            wait = timeout / 1e9
            if flags & _CLOCK_ABSTIME:
                now = time.time_ns() if clock == 0 else time.monotonic_ns()
                wait = (timeout - now) / 1e9
            waits.append((userdata, tag, wait))
        soonest = max(0.0, min(wait for _, _, wait in waits))
        remaining = (channels.deadline - time.monotonic()) if channels else 0.0
        slept = max(0.0, min(soonest, remaining))
        if slept > 0:
            time.sleep(slept)
        fired = [
            _EVENT.pack(userdata, _EBADF if tag != 0 else 0, tag)
            for userdata, tag, wait in waits
            if wait <= slept
        ]
        if fired:
            memory.write(caller, b"".join(fired), events)
        memory.write(caller, struct.pack("<I", len(fired)), out)
        return 0

    def fd_read(caller: wasmtime.Caller, fd: int, iovs: int, count: int, nread: int) -> int:
        channels = slot.channels
        if channels is None or fd != 0:
            return _EBADF
        memory = _guest_memory(caller, channels)
        size = len(memory)
        if iovs < 0 or count < 0 or iovs + 8 * count > size or not 0 <= nread <= size - 4:
            return _EFAULT
        total = 0
        for index in range(count):
            ptr, length = _IOVEC.unpack_from(memory, iovs + 8 * index)
            if ptr + length > size:
                return _EFAULT
            chunk = channels.read_answer(length)
            memory[ptr : ptr + len(chunk)] = chunk
            total += len(chunk)
            if len(chunk) < length:
                break
        _U32.pack_into(memory, nread, total)
        return _SUCCESS

    four = wasmtime.FuncType([_I32] * 4, [_I32])
    linker.define_func(WASI, "fd_write", four, fd_write, access_caller=True)
    linker.define_func(WASI, "fd_read", four, fd_read, access_caller=True)
    linker.define_func(WASI, "poll_oneoff", four, poll_oneoff, access_caller=True)
    return linker
