"""The subprocess pool: crashes, outer deadlines, concurrency, isolation between runs."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from runner.contract import Language, RunRequest, RunStatus
from runner.errors import PoolClosedError
from runner.sandbox.pool import RunnerPool
from tests.integration.runner_fixtures import as_modules, make_request, runner_pool

__all__ = ["as_modules", "make_request", "runner_pool"]  # fixtures used below


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_subprocess_killed_mid_run_fails_that_run_and_the_next_succeeds(make_request):
    with RunnerPool(1) as pool:
        (pid,) = pool.pids()
        killer = threading.Timer(0.3, os.kill, args=(pid, signal.SIGKILL))
        killer.start()

        result = pool.run(make_request("loop", max_execution_time_ms=10_000))
        killer.join()

        assert result.status is RunStatus.FAILED
        assert result.error_message.startswith("runner subprocess died (signal 9")
        follow_up = pool.run(make_request("echo", '{"ok": true}'))
        assert follow_up.status is RunStatus.COMPLETED
        assert follow_up.output_json == '{"ok": true}'
        assert pool.pids() != [pid]


def test_parent_kills_a_child_that_overruns_its_deadline(make_request):
    # A time cap below the request's limit but a loop the sandbox itself cannot stop is
    # simulated by stopping the child: SIGSTOP freezes it, only the parent's kill helps.
    with RunnerPool(1, grace_ms=200) as pool:
        (pid,) = pool.pids()
        freezer = threading.Timer(0.1, os.kill, args=(pid, signal.SIGSTOP))
        freezer.start()
        started = time.monotonic()

        result = pool.run(make_request("loop", max_execution_time_ms=500))
        freezer.join()

        assert result.status is RunStatus.TIMEOUT
        assert "time limit of 500 ms" in result.error_message
        assert time.monotonic() - started < 3.0
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert pool.run(make_request("echo", "1")).output_json == "1"


def test_time_cap_overrides_a_larger_request_limit(make_request):
    with RunnerPool(1, max_time_cap_ms=300) as pool:
        started = time.monotonic()
        result = pool.run(make_request("loop", max_execution_time_ms=60_000))

        assert result.status is RunStatus.TIMEOUT
        assert "time limit of 300 ms" in result.error_message
        assert time.monotonic() - started < 2.0


def test_64_concurrent_runs_from_threads_all_complete(make_request):
    with RunnerPool(2) as pool:
        requests = [make_request("echo", f'{{"n": {n}}}') for n in range(64)]
        with ThreadPoolExecutor(max_workers=64) as executor:
            results = list(executor.map(pool.run, requests))

    assert [r.status for r in results] == [RunStatus.COMPLETED] * 64
    assert [r.output_json for r in results] == [f'{{"n": {n}}}' for n in range(64)]


def test_a_child_that_died_while_idle_is_replaced_transparently(make_request):
    with RunnerPool(1) as pool:
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: os.waitpid(pid, os.WNOHANG) != (0, 0))

        result = pool.run(make_request("echo", "[true]"))

        assert result.status is RunStatus.COMPLETED
        assert result.output_json == "[true]"


def test_closed_pool_rejects_runs_and_stops_children(make_request):
    pool = RunnerPool(1)
    (pid,) = pool.pids()
    pool.close()

    with pytest.raises(PoolClosedError):
        pool.run(make_request("echo"))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_disk_cache_serves_compiled_modules_to_a_new_pool(make_request, tmp_path):
    with RunnerPool(1, cache_dir=tmp_path) as pool:
        assert pool.run(make_request("counter")).output_json == "1"
    (cached,) = tmp_path.glob("*.cwasm")
    written = cached.stat()

    with RunnerPool(1, cache_dir=tmp_path) as pool:
        result = pool.run(make_request("counter"))

    assert result.status is RunStatus.COMPLETED
    assert result.output_json == "1"
    # Loaded, not recompiled: a recompile would have replaced the file (new inode).
    assert cached.stat().st_ino == written.st_ino
    assert cached.stat().st_mtime_ns == written.st_mtime_ns


def test_javascript_requests_are_dispatched_to_the_javascript_runner(runner_pool):
    source = b"function handle(input) { console.log('got', input.a); return {twice: input.a * 2}; }"

    result = runner_pool.run(
        RunRequest(language=Language.JAVASCRIPT, artifact=source, input_json='{"a": 21}')
    )

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert result.output_json.replace(" ", "") == '{"twice":42}'
    assert "got 21" in result.logs
