"""One sandbox suite for every language, through the real runner pool (real subprocesses).

The same hostile functions (an endless loop, a memory bomb, runaway recursion, a 4 MiB output, a
flood of logs, state left in globals) written in each language must end the same way: TIMEOUT or
FAILED with the same wording, and the pool goes on serving. Language-specific behaviour stays in
test_runner_<language>.py.
"""

from __future__ import annotations

import json
import time

import pytest

from runner.contract import Language, Limits, RunRequest, RunStatus
from runner.logs import TRUNCATED_MARKER
from tests.integration.runner_fixtures import as_modules, runner_pool
from tests.integration.sandbox_cases import CASES, LANGUAGES, MIB, UNICODE

__all__ = ["as_modules", "runner_pool"]  # fixtures used below


@pytest.fixture(params=LANGUAGES, ids=lambda language: language.value)
def language(request) -> Language:
    return request.param


@pytest.fixture
def run(runner_pool, as_modules, language):
    """Runs a case in the parametrised language through the pool with optional limits."""

    def run_case(case: str, input_value=None, **limits) -> object:
        source = CASES[case][language]
        artifact = as_modules[source] if language is Language.ASSEMBLYSCRIPT else source.encode()
        request = RunRequest(
            language=language,
            artifact=artifact,
            input_json=json.dumps({} if input_value is None else input_value),
            limits=Limits(**limits),
        )
        return runner_pool.run(request)

    return run_case


def test_unicode_and_nested_json_come_back_unchanged(run):
    result = run("echo", UNICODE)

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert json.loads(result.output_json) == UNICODE


def test_an_endless_loop_times_out_at_its_limit_and_the_pool_goes_on(run):
    started = time.monotonic()
    result = run("loop", max_execution_time_ms=1000)
    elapsed = time.monotonic() - started

    assert result.status is RunStatus.TIMEOUT
    assert "time limit of 1000 ms (maxExecutionTimeMs)" in result.error_message
    assert elapsed < 2.5, elapsed
    assert run("echo", [1]).output_json == "[1]"


def test_a_memory_bomb_fails_out_of_memory(run, language):
    result = run("membomb", max_memory_bytes=32 * MIB)

    assert result.status is RunStatus.FAILED
    assert "out of memory" in result.error_message
    if language is Language.PYTHON:  # not measurable: null, never a made-up figure
        assert result.memory_peak_bytes is None
    else:
        assert 0 < result.memory_peak_bytes <= 32 * MIB
    assert run("echo", [2]).output_json == "[2]"


def test_runaway_recursion_fails_and_the_pool_goes_on(run):
    result = run("recursion")

    assert result.status is RunStatus.FAILED
    assert "stack overflow" in result.error_message or "recursion" in result.error_message
    assert run("echo", [3]).output_json == "[3]"


def test_an_output_over_the_limit_fails_naming_it(run):
    result = run("bigoutput", max_output_size_bytes=1 * MIB)

    assert result.status is RunStatus.FAILED
    assert f"over the maxOutputSizeBytes limit of {MIB} bytes" in result.error_message
    assert result.output_json is None


def test_logs_are_capped_with_a_visible_marker(run):
    result = run("logflood", 5000, max_log_bytes=2000)

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert result.logs.endswith(TRUNCATED_MARKER)
    assert len(result.logs.encode()) <= 2000 + len(TRUNCATED_MARKER.encode())


def test_state_in_globals_does_not_reach_the_next_run(run):
    assert [json.loads(run("globals").output_json) for _ in range(3)] == [1, 1, 1]
