"""The sandbox suite through the HTTP API, for every language: the same hostile functions, compiled by
the real compiler and run by the web process, end TIMEOUT or FAILED and the API stays healthy."""

from __future__ import annotations

import time

import pytest

from runner.contract import Language
from tests.integration.api_fixtures import api, client
from tests.integration.execute_helpers import assert_healthy, execute, register, wait_compiled
from tests.integration.sandbox_cases import LANGUAGES, MIB, UNICODE, source_text

__all__ = ["api", "client"]  # fixtures used below

LIMITS = {"loop": {"maxExecutionTimeMs": 1000}, "membomb": {"maxMemoryBytes": 32 * MIB}}
CASES_RUN = ("echo", "loop", "membomb", "recursion", "bigoutput", "globals")


@pytest.fixture(scope="module")
def fns(api) -> dict[tuple[Language, str], str]:
    """Every case in every language, registered at once and compiled: (language, case) → id."""
    client = api.test_client()
    ids = {
        (language, case): register(
            client,
            language.value,
            source_text(case, language),
            LIMITS.get(case),
            name=f"sb-{language}-{case}",
        )
        for language in LANGUAGES
        for case in CASES_RUN
    }
    found = wait_compiled(client, list(ids.values()), timeout=120)
    for key, fid in ids.items():
        assert found[fid]["status"] == "READY", (key, found[fid]["compileError"])
    return ids


@pytest.fixture(params=LANGUAGES, ids=lambda language: language.value)
def language(request) -> Language:
    return request.param


def test_unicode_and_nested_json_come_back_unchanged(client, fns, language):
    execution = execute(client, fns[language, "echo"], UNICODE)

    assert execution["status"] == "COMPLETED", execution["errorMessage"]
    assert execution["output"] == UNICODE


def test_an_endless_loop_times_out_within_its_limit(client, fns, language):
    started = time.monotonic()
    execution = execute(client, fns[language, "loop"])

    assert execution["status"] == "TIMEOUT"
    assert "time limit of 1000 ms" in execution["errorMessage"]
    assert time.monotonic() - started < 2.5
    assert execute(client, fns[language, "echo"], {"after": "loop"})["status"] == "COMPLETED"
    assert_healthy(client)


def test_a_memory_bomb_fails_out_of_memory(client, fns, language):
    execution = execute(client, fns[language, "membomb"])

    assert execution["status"] == "FAILED"
    assert "out of memory" in execution["errorMessage"]
    assert_healthy(client)


def test_runaway_recursion_fails(client, fns, language):
    execution = execute(client, fns[language, "recursion"])

    assert execution["status"] == "FAILED"
    message = execution["errorMessage"]
    assert "stack overflow" in message or "recursion" in message
    assert execute(client, fns[language, "echo"], {"after": "recursion"})["status"] == "COMPLETED"


def test_an_output_over_the_default_limit_fails(client, fns, language):
    execution = execute(client, fns[language, "bigoutput"])

    assert execution["status"] == "FAILED"
    assert f"over the maxOutputSizeBytes limit of {MIB} bytes" in execution["errorMessage"]
    assert execution["output"] is None


def test_state_in_globals_does_not_reach_the_next_execution(client, fns, language):
    assert [execute(client, fns[language, "globals"])["output"] for _ in range(3)] == [1, 1, 1]
