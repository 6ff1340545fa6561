"""A pool of long-lived runner subprocesses with a hard outer deadline per run.

Each subprocess (``python -m runner.sandbox.child``) runs in its own session, so its process group
can be killed whole. The parent gives every run ``max_execution_time_ms + grace_ms`` to
answer (more while the child reports it is compiling); when that passes, or when the child
dies, the parent kills the group, answers TIMEOUT or FAILED for that run only, and starts a
replacement in the background.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time

from infra import metrics
from runner.contract import RunRequest, RunResult, RunStatus
from runner.errors import PoolClosedError, RunnerError
from runner.messages import died_message, timeout_message
from runner.sandbox import protocol
from runner.sandbox.process import HostCallHandler, SandboxDied, SandboxOverran, SandboxProcess

GIB = 1024**3
_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RunnerPool:
    """Runs requests in ``size`` sandbox subprocesses; ``run`` is safe to call from threads."""

    def __init__(
        self,
        size: int,
        *,
        grace_ms: int = 1000,
        max_time_cap_ms: int | None = None,
        data_limit_bytes: int = 4 * GIB,
        cache_capacity: int = 64,
        cache_dir: str | os.PathLike[str] | None = None,
        compile_budget_ms: int = 60_000,
        startup_timeout_s: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        if size < 1:
            raise ValueError("a RunnerPool needs at least one subprocess")
        self._grace_s = grace_ms / 1000.0
        self._cap_ms = max_time_cap_ms
        self._compile_budget_s = compile_budget_ms / 1000.0
        self._startup_timeout_s = startup_timeout_s
        # -c with an explicit sys.path entry: the child finds this package whatever the
        # caller's working directory is.
        bootstrap = f"import sys; sys.path.insert(0, {_PROJECT_ROOT!r}); " + (
            "from runner.sandbox.child import main; main(sys.argv[1:])"
        )
        self._argv = [python, "-c", bootstrap, "--data-limit", str(data_limit_bytes)]
        self._argv += ["--cache-capacity", str(cache_capacity)]
        if cache_dir is not None:
            self._argv += ["--cache-dir", os.fspath(cache_dir)]
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._idle: list[SandboxProcess] = []
        self._all: set[SandboxProcess] = set()
        self._closed = False
        self._busy: dict[str, SandboxProcess] = {}
        self._cancelled: set[str] = set()
        self.replacements = 0
        workers = [self._spawn() for _ in range(size)]
        try:
            for worker in workers:
                worker.wait_ready()
        except RunnerError:
            for worker in workers:
                worker.kill()
            raise
        with self._cond:
            self._idle.extend(workers)
            self._all.update(workers)

    def run(self, request: RunRequest, host: HostCallHandler | None = None) -> RunResult:
        """Run one request in a free subprocess (blocks until one is free); `host` answers the
        code's host API calls."""
        if os.getpid() != self._pid:
            raise RunnerError("a RunnerPool cannot be used after fork; create one per process")
        if self._cap_ms is not None and request.limits.max_execution_time_ms > self._cap_ms:
            limits = dataclasses.replace(request.limits, max_execution_time_ms=self._cap_ms)
            request = dataclasses.replace(request, limits=limits)
        frame = protocol.encode_request(request)
        run_budget_s = request.limits.max_execution_time_ms / 1000.0 + self._grace_s
        for attempt in range(2):
            worker = self._acquire()
            try:
                worker.send(frame)
            except SandboxDied:
                # The child died while idle, so this run never started: retry it once.
                self._replace(worker)
                if attempt == 0:
                    continue
                return RunResult(status=RunStatus.FAILED, error_message=died_message(None))
            run_id = request.execution_id
            if run_id is not None:
                with self._cond:
                    self._busy[run_id] = worker
                    cancelled = run_id in self._cancelled
                if cancelled:  # cancelled before the subprocess got the request
                    worker.interrupt()
            try:
                payload = worker.receive(run_budget_s, self._compile_budget_s, host)
            except SandboxOverran:
                worker.kill()
                self._replace(worker)
                return RunResult(
                    status=RunStatus.TIMEOUT,
                    error_message=timeout_message(request.limits),
                    duration_ms=run_budget_s * 1000.0,
                )
            except SandboxDied:
                code = worker.returncode()
                worker.kill()
                self._replace(worker)
                if self._forget(run_id):
                    return RunResult(status=RunStatus.CANCELLED, error_message="cancelled by request")
                return RunResult(status=RunStatus.FAILED, error_message=died_message(code))
            except BaseException:
                # Interrupted mid-protocol: the child's state is unknown, never reuse it.
                worker.kill()
                self._replace(worker)
                raise
            finally:
                with self._cond:
                    self._busy.pop(run_id, None)
            if self._forget(run_id):  # the cancel came as the run ended: its subprocess is dead
                self._replace(worker)
                return RunResult(status=RunStatus.CANCELLED, error_message="cancelled by request")
            self._release(worker)
            return protocol.decode_result(payload)
        raise AssertionError("unreachable")

    def cancel(self, execution_id: str) -> None:
        """Stop the run of that execution (kill its subprocess), now or as soon as it starts here.

        Call `forget_cancel` when the execution was never going to run in this pool.
        """
        with self._cond:
            self._cancelled.add(execution_id)
            worker = self._busy.get(execution_id)
        if worker is not None:
            worker.interrupt()  # the run's own thread sees end-of-file and closes the pipes

    def forget_cancel(self, execution_id: str) -> None:
        """Drop a cancel mark that no run consumed."""
        self._forget(execution_id)

    def _forget(self, execution_id: str | None) -> bool:
        if execution_id is None:
            return False
        with self._cond:
            if execution_id in self._cancelled:
                self._cancelled.discard(execution_id)
                return True
            return False

    def pids(self) -> list[int]:
        """Process ids of the current subprocesses (for monitoring and tests)."""
        with self._cond:
            return sorted(worker.proc.pid for worker in self._all)

    def close(self) -> None:
        """Stop every subprocess; runs waiting for one get PoolClosedError."""
        with self._cond:
            self._closed = True
            idle = list(self._idle)
            busy = [worker for worker in self._all if worker not in self._idle]
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
        for worker in busy:
            worker.interrupt()  # its run's thread closes the pipes when it sees end-of-file

    def __enter__(self) -> RunnerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _spawn(self) -> SandboxProcess:
        return SandboxProcess(self._argv, self._startup_timeout_s)

    def _acquire(self) -> SandboxProcess:
        with self._cond:
            while not self._idle:
                if self._closed:
                    raise PoolClosedError("the runner pool is closed")
                self._cond.wait()
            if self._closed:
                raise PoolClosedError("the runner pool is closed")
            # LIFO: the most recently used subprocess has the warmest module cache.
            return self._idle.pop()

    def _release(self, worker: SandboxProcess) -> None:
        with self._cond:
            if self._closed or worker not in self._all:
                stop = True
            else:
                stop = False
                self._idle.append(worker)
                self._cond.notify()
        if stop:
            worker.stop()

    def _replace(self, dead: SandboxProcess) -> None:
        """Drop ``dead`` and start a replacement without holding up the caller."""
        with self._cond:
            self._all.discard(dead)
            if self._closed:
                return
            self.replacements += 1
        metrics.RUNNER_RESTARTS.inc()
        threading.Thread(target=self._start_replacement, name="runner-respawn", daemon=True).start()

    def _start_replacement(self) -> None:
        while True:
            try:
                worker = self._spawn()
                worker.wait_ready()
            except (RunnerError, OSError):
                with self._cond:
                    if self._closed:
                        return
                time.sleep(1.0)  # e.g. out of processes: try again rather than shrink
                continue
            with self._cond:
                if self._closed:
                    closed = True
                else:
                    closed = False
                    self._all.add(worker)
                    self._idle.append(worker)
                    self._cond.notify()
            if closed:
                worker.stop()
            return
