"""AssemblyScript compilation through one long-lived Node process running asc_server.mjs."""

from __future__ import annotations

import base64
import binascii
import collections
import json
import logging
import os
import queue
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from compiler.errors import (
    AssemblyScriptCompileError,
    CompilerCrashed,
    CompilerUnavailable,
    CompileTimeout,
)
from infra.processes import kill_group

log = logging.getLogger(__name__)

SERVER_SCRIPT = Path(__file__).with_name("asc_server.mjs")
ASC_ENTRY = Path("node_modules") / "assemblyscript" / "dist" / "asc.js"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STDERR_TAIL_LINES = 40


NODE_HEAP_MB = 1024


class _ProcessDied(Exception):
    """The Node process went away (or spoke garbage) while we waited for it."""


@dataclass(slots=True)
class _NodeProcess:
    """One running compile server with the threads that drain its pipes."""

    popen: subprocess.Popen[str]
    owner_pid: int
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stderr_tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=_STDERR_TAIL_LINES)
    )
    compiles: int = 0

    def start_readers(self) -> None:
        """Drains stdout into a queue and keeps the last stderr lines for error messages."""
        threading.Thread(target=self._read_stdout, daemon=True, name="asc-stdout").start()
        threading.Thread(target=self._read_stderr, daemon=True, name="asc-stderr").start()

    def _read_stdout(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_stderr(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.stderr_tail.append(line.rstrip("\n"))

    def describe_exit(self) -> str:
        """Says how the process ended, with its last stderr lines."""
        code = self.popen.poll()
        status = "is still running" if code is None else f"exited with code {code}"
        tail = "\n".join(list(self.stderr_tail)[-5:]).strip()
        return f"node {status}" + (f": {tail}" if tail else "")

    def kill(self) -> None:
        """Kills the whole process group; a process that is already gone is fine."""
        if not kill_group(self.popen):
            log.warning("asc server pid %s did not die after SIGKILL", self.popen.pid)


class AscCompiler:
    """Compiles AssemblyScript to WebAssembly with a warm, reused Node compile server."""

    def __init__(
        self,
        *,
        node: str = "node",
        project_root: Path,
        timeout_s: float = 30.0,
        startup_timeout_s: float = 60.0,
        max_source_chars: int = 1_000_000,
        recycle_after: int = 500,
        warmup: bool = True,
    ) -> None:
        self._node = node
        self._project_root = Path(project_root)
        self.timeout_s = timeout_s
        self._startup_timeout_s = startup_timeout_s
        self._max_source_chars = max_source_chars
        # A fresh process now and then bounds whatever the compiler keeps across compiles.
        self._recycle_after = recycle_after
        # A warm-up compile at start moves the slow first compile out of the first job.
        self._warmup = warmup
        self._lock = threading.Lock()
        self._proc: _NodeProcess | None = None
        self._request_id = 0

    @property
    def pid(self) -> int | None:
        """The pid of the current Node process, or None when none is running."""
        proc = self._proc
        return proc.popen.pid if proc is not None and proc.popen.poll() is None else None

    def start(self) -> None:
        """Starts the Node process now instead of on the first compile."""
        with self._lock:
            self._ensure_process(after_crash=False)

    def compile(self, source: str, *, timeout_s: float | None = None) -> bytes:
        """Compiles one AssemblyScript source to a wasm binary (--exportRuntime, incremental)."""
        if len(source) > self._max_source_chars:
            raise AssemblyScriptCompileError(
                f"source is too large ({len(source)} characters, at most "
                f"{self._max_source_chars}); split it into smaller functions"
            )
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            crashed_before = False
            while True:
                proc = self._ensure_process(after_crash=crashed_before)
                try:
                    return self._request(proc, source, timeout)
                except _ProcessDied as exc:
                    self._discard(proc)
                    if crashed_before:
                        # Twice in a row on the same source: the source is what kills asc.
                        raise AssemblyScriptCompileError(
                            f"the AssemblyScript compiler crashed while compiling this source "
                            f"({exc}); simplify the source or report it as a compiler bug"
                        ) from exc
                    log.warning("asc server died (%s); restarting and retrying once", exc)
                    crashed_before = True

    def close(self) -> None:
        """Stops the Node process; a later compile starts a new one."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None or proc.owner_pid != os.getpid():
                return
            try:
                assert proc.popen.stdin is not None
                proc.popen.stdin.close()  # the server exits by itself at end of input
                proc.popen.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
            proc.kill()

    def __enter__(self) -> AscCompiler:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _ensure_process(self, *, after_crash: bool) -> _NodeProcess:
        proc = self._proc
        if proc is not None and proc.owner_pid != os.getpid():
            # Inherited across fork: the parent owns that process and its pipes.
            proc = self._proc = None
        if proc is not None and proc.compiles >= self._recycle_after:
            self._discard(proc)
            proc = None
        if proc is not None and proc.popen.poll() is not None:
            log.warning("asc server pid %s had exited: %s", proc.popen.pid, proc.describe_exit())
            self._discard(proc)
            proc = None
        if proc is None:
            try:
                proc = self._spawn()
            except CompilerUnavailable as exc:
                if after_crash:
                    raise CompilerCrashed(str(exc)) from exc
                raise
            self._proc = proc
        return proc

    def _spawn(self) -> _NodeProcess:
        asc_entry = self._project_root / ASC_ENTRY
        if not asc_entry.is_file():
            raise CompilerUnavailable(
                f"AssemblyScript is not installed: {asc_entry} is missing; run `npm ci` in "
                f"{self._project_root}"
            )
        # A bounded V8 heap: a hostile source that makes the compiler balloon kills only this
        # process (reported as a crash), never the machine.
        argv = [
            self._node,
            f"--max-old-space-size={NODE_HEAP_MB}",
            str(SERVER_SCRIPT),
            "--asc",
            str(asc_entry),
        ]
        if not self._warmup:
            argv.append("--no-warmup")
        try:
            popen = subprocess.Popen(
                argv,
                cwd=self._project_root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # so a timeout kills the whole group
            )
        except OSError as exc:
            raise CompilerUnavailable(f"cannot start {self._node!r}: {exc}") from exc
        proc = _NodeProcess(popen=popen, owner_pid=os.getpid())
        proc.start_readers()
        try:
            line = proc.lines.get(timeout=self._startup_timeout_s)
        except queue.Empty:
            line = None
        ready = _parse_json(line) if line else None
        if not (isinstance(ready, dict) and ready.get("ready") is True):
            time.sleep(0.05)  # let the stderr reader catch the last words
            detail = proc.describe_exit()
            proc.kill()
            raise CompilerUnavailable(f"the AssemblyScript compile server did not start: {detail}")
        log.info("asc server pid %s ready (asc %s)", popen.pid, ready.get("version"))
        return proc

    def _request(self, proc: _NodeProcess, source: str, timeout: float) -> bytes:
        self._request_id += 1
        request_id = self._request_id
        proc.compiles += 1
        try:
            assert proc.popen.stdin is not None
            proc.popen.stdin.write(json.dumps({"id": request_id, "source": source}) + "\n")
            proc.popen.stdin.flush()
        except (OSError, ValueError) as exc:
            raise _ProcessDied(f"cannot send the request: {exc}") from exc
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise queue.Empty
                line = proc.lines.get(timeout=remaining)
            except queue.Empty:
                self._discard(proc)
                raise CompileTimeout(
                    f"compilation timed out after {timeout:g} s; simplify the source or split "
                    f"it into smaller functions"
                ) from None
            if line is None:
                time.sleep(0.05)  # let the stderr reader catch the last words
                raise _ProcessDied(proc.describe_exit())
            reply = _parse_json(line)
            if not isinstance(reply, dict):
                raise _ProcessDied(f"unexpected output from the compile server: {line[:200]!r}")
            if reply.get("id") != request_id:
                continue  # a stale reply cannot happen after a kill, but never mix answers
            if reply.get("ok") is True:
                return _decode_wasm(reply.get("wasm"))
            raise AssemblyScriptCompileError(_clean(str(reply.get("error") or "")))

    def _discard(self, proc: _NodeProcess) -> None:
        if self._proc is proc:
            self._proc = None
        proc.kill()


def _parse_json(line: str | None) -> object:
    try:
        return json.loads(line) if line else None
    except ValueError:
        return None


def _decode_wasm(payload: object) -> bytes:
    try:
        wasm = base64.b64decode(str(payload), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _ProcessDied("the compile server sent an undecodable binary") from exc
    if not wasm.startswith(b"\0asm"):
        raise _ProcessDied("the compile server sent something that is not a wasm binary")
    return wasm


def _clean(message: str) -> str:
    text = _ANSI.sub("", message).strip()
    return text or "compilation failed without diagnostics"
