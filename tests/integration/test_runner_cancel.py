"""Cancelling a run from another thread: the process is killed, only the reading thread closes pipes."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

from runner.contract import RunStatus
from runner.sandbox import protocol
from runner.sandbox.pool import RunnerPool
from runner.sandbox.process import SandboxDied, SandboxProcess
from tests.integration.runner_fixtures import as_modules, make_request

__all__ = ["as_modules", "make_request"]  # fixtures used below


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_interrupt_kills_the_child_and_leaves_the_pipes_to_their_reader(make_request):
    pool = RunnerPool(1)
    try:
        argv = pool._argv
    finally:
        pool.close()
    sandbox = SandboxProcess(argv, startup_timeout_s=60)
    sandbox.wait_ready()
    sandbox.send(protocol.encode_request(make_request("loop", max_execution_time_ms=60_000)))
    outcome: list[BaseException] = []

    def read():
        try:
            sandbox.receive(run_budget_s=60, compile_budget_s=60)
        except BaseException as exc:  # noqa: BLE001 - the test inspects what the reader got
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    sandbox.interrupt()  # from another thread, as a cancel request does
    reader.join(30)

    assert len(outcome) == 1 and isinstance(outcome[0], SandboxDied), outcome
    # interrupt() never closed them: the reader's own kill() does.
    assert not sandbox.proc.stdout.closed and not sandbox.proc.stdin.closed
    sandbox.kill()
    assert sandbox.proc.stdout.closed and sandbox.returncode() is not None


def test_cancel_from_another_thread_ends_the_run_cancelled_and_the_pool_goes_on(make_request):
    with RunnerPool(1) as pool:
        for _ in range(3):
            run_id = str(uuid.uuid4())
            request = dataclasses.replace(
                make_request("loop", max_execution_time_ms=60_000), execution_id=run_id
            )
            results: list = []
            runner = threading.Thread(target=lambda r=request, out=results: out.append(pool.run(r)))
            runner.start()
            _wait_for(lambda rid=run_id: rid in pool._busy)

            pool.cancel(run_id)
            runner.join(30)

            assert results and results[0].status is RunStatus.CANCELLED
        follow_up = pool.run(make_request("echo", '{"ok": true}'))
        assert follow_up.status is RunStatus.COMPLETED


def test_a_cancel_before_the_run_starts_cancels_it(make_request):
    with RunnerPool(1) as pool:
        run_id = str(uuid.uuid4())
        pool.cancel(run_id)
        request = dataclasses.replace(make_request("loop", max_execution_time_ms=60_000), execution_id=run_id)

        assert pool.run(request).status is RunStatus.CANCELLED
        assert pool.run(make_request("echo", "{}")).status is RunStatus.COMPLETED
