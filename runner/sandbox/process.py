"""One runner subprocess seen from the parent: its process group, pipes and frames."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

from infra.processes import kill_group, signal_group
from runner.errors import RunnerError
from runner.sandbox import protocol

HostCallHandler = Callable[[bytes], bytes]
NO_HOST_API = b'{"error": "the host API is not available for this run"}'


class SandboxDied(Exception):
    """The child closed its end (crashed, was killed, or exited)."""


class SandboxOverran(Exception):
    """The child did not answer before the deadline."""


class SandboxProcess:
    """One subprocess and its pipes; used by one thread at a time."""

    def __init__(self, argv: list[str], startup_timeout_s: float) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            start_new_session=True,
            close_fds=True,
        )
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._poll = select.poll()
        self._poll.register(self._out, select.POLLIN)
        self._buf = bytearray()
        self.startup_deadline = time.monotonic() + startup_timeout_s

    def wait_ready(self) -> None:
        """Block until the child has built its Engine (raises RunnerError otherwise)."""
        try:
            kind, _ = self._frame(self.startup_deadline)
        except (SandboxDied, SandboxOverran) as exc:
            self.kill()
            raise RunnerError(
                f"runner subprocess failed to start ({type(exc).__name__}); "
                "check that wasmtime is installed in the platform's Python"
            ) from exc
        if kind != protocol.HELLO:
            self.kill()
            raise RunnerError(f"runner subprocess sent {kind!r} instead of its greeting")

    def send(self, buffers: list[bytes]) -> None:
        """Write a whole request (raises SandboxDied when the child is gone)."""
        total = sum(len(b) for b in buffers)
        try:
            written = os.writev(self._in, buffers)
            if written < total:
                rest = memoryview(b"".join(buffers))[written:]
                while rest:
                    rest = rest[os.write(self._in, rest) :]
        except (BrokenPipeError, ConnectionResetError, OSError) as exc:
            raise SandboxDied() from exc

    def receive(
        self, run_budget_s: float, compile_budget_s: float, on_call: HostCallHandler | None = None
    ) -> bytes:
        """The result payload; compile notices move the deadline; host calls are answered."""
        deadline = time.monotonic() + run_budget_s
        while True:
            kind, payload = self._frame(deadline)
            if kind == protocol.RESULT:
                return payload
            if kind == protocol.HOST_CALL:
                answer = on_call(payload) if on_call is not None else NO_HOST_API
                self.send(protocol.encode_answer(answer))
            if kind == protocol.COMPILING:
                deadline = time.monotonic() + compile_budget_s
            elif kind == protocol.COMPILED:
                deadline = time.monotonic() + run_budget_s

    def _frame(self, deadline: float) -> tuple[bytes, bytes]:
        size = protocol.REPLY_HEADER.size
        self._fill(size, deadline)
        kind, length = protocol.REPLY_HEADER.unpack_from(self._buf)
        self._fill(size + length, deadline)
        payload = bytes(self._buf[size : size + length])
        del self._buf[: size + length]
        return kind, payload

    def _fill(self, needed: int, deadline: float) -> None:
        while len(self._buf) < needed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxOverran()
            if not self._poll.poll(max(1, int(remaining * 1000) + 1)):
                continue
            chunk = os.read(self._out, max(65536, needed - len(self._buf)))
            if not chunk:
                raise SandboxDied()
            self._buf += chunk

    def returncode(self) -> int | None:
        """The child's exit status once it is gone (reaps it)."""
        try:
            return self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill the child's whole process group and close the pipes: only the thread that reads them."""
        kill_group(self.proc)

    def interrupt(self) -> None:
        """Kill the child's process group from any thread; the pipes stay open.

        The thread reading them sees end-of-file and closes them itself (`kill`): a descriptor
        closed under its reader could be reused by another sandbox's pipe before the read.
        """
        signal_group(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        """Ask the child to exit by closing its stdin, then make sure it did."""
        self.close_pipes()
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.kill()

    def close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
