"""Every language through the HTTP API, each behaviour written once (huey's StorageTests as model):
the same tests run for AssemblyScript, JavaScript and Python, with what differs between languages
(a source, an expected message) in the tables below. Functions are compiled by the real compiler
processes and run by the web process's runner pool.

A behaviour only some languages have (async handlers, console output in logs) lists them in its
`languages(...)` mark; what one language alone does lives in its own module
(test_execute_javascript_api.py, test_execute_python_api.py, test_execute_api.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.contract import Language
from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import (
    UNICODE_INPUT,
    assert_healthy,
    compile_error,
    execute,
    expect_error,
    register,
    wait_compiled,
)
from tests.integration.sandbox_cases import LANGUAGES, MIB, UNICODE, source_text

__all__ = ["api"]  # fixture used below

AS, JS, PY = Language.ASSEMBLYSCRIPT, Language.JAVASCRIPT, Language.PYTHON
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True, kw_only=True)
class Case:
    """A function of one language, what it is run with, and what the answer must show."""

    source: str
    input: object = None
    output: object = None
    # re.search patterns the error (or compile error) must match; logs the run must write.
    error: tuple[str, ...] = ()
    logs: str | None = None


# Behaviour → language → its case. Sandbox cases (echo, loop, ...) come from sandbox_cases.py.
CASES: dict[str, dict[Language, Case]] = {
    "add": {
        JS: Case(source=(FIXTURES / "javascript" / "add.js").read_text(), input={"a": 40, "b": 2}),
        PY: Case(source=(FIXTURES / "python" / "add.py").read_text(), input={"a": 40, "b": 2}),
    },
    "throws": {
        AS: Case(
            source=(FIXTURES / "assemblyscript" / "throws.ts").read_text(), error=("something went wrong",)
        ),
        JS: Case(
            source="function handle(input) {\n  throw new TypeError('bad input: ' + input.n);\n}",
            error=(r"^TypeError: bad input: 7", r"at handle \("),
        ),
        PY: Case(
            source="def handle(input):\n    raise TypeError(f\"bad input: {input['n']}\")\n",
            error=(
                r"^TypeError: bad input: 7\nTraceback",
                re.escape('File "function.py", line 2, in handle'),
            ),
        ),
    },
    "console": {
        JS: Case(
            source="function handle(input) {\n  console.log('hello', input.n, {a: [1]});\n"
            "  console.error('went wrong');\n  return {ok: true};\n}",
            logs='hello 42 {"a":[1]}\nwent wrong',
        ),
        PY: Case(
            source="import sys\ndef handle(input):\n    print('hello', input['n'])\n"
            "    print('went wrong', file=sys.stderr)\n    return {'ok': True}\n",
            logs="hello 42\nwent wrong",
        ),
    },
    "async": {
        JS: Case(
            source=(FIXTURES / "javascript" / "async_greet.js").read_text(),
            input={"name": "Ada"},
            output={"greeting": "hello, Ada"},
        ),
        PY: Case(
            source="async def double(n):\n    return 2 * n\n\n"
            "async def handle(input):\n    return await double(21)\n",
            output=42,
        ),
    },
    "syntax_error": {
        JS: Case(
            source="function handle(input) {\n  const x = 1;\n  return (x +);\n}",
            error=(r"^SyntaxError: (.|\n)*at line 3, column 14$",),
        ),
        PY: Case(
            source="def handle(input):\n    x = 1\n    return (x +)\n",
            error=(r"^SyntaxError: invalid syntax at line 3, column 16$",),
        ),
    },
    "no_handle": {
        JS: Case(source="function main(input) { return 1; }", error=("no handle function defined",)),
        PY: Case(source="def main(input):\n    return 1\n", error=("no handle function defined",)),
    },
}
COMPILE_FAILURES = {"syntax_error", "no_handle"}
SANDBOX_LIMITS = {"loop": {"maxExecutionTimeMs": 1000}, "membomb": {"maxMemoryBytes": 32 * MIB}}
SANDBOX_CASES = ("echo", "loop", "membomb", "recursion", "bigoutput", "globals")


def languages(behaviour: str):
    """Parametrise a test by every language that has `behaviour` in CASES."""
    return pytest.mark.parametrize("language", list(CASES[behaviour]), ids=lambda language: language.value)


@pytest.fixture(scope="module")
def fns(api) -> dict[tuple[Language, str], str]:
    """Every case in every language, registered at once and compiled: (language, case) → id."""
    client = api.test_client()
    specs = {
        (language, case): (source_text(case, language), SANDBOX_LIMITS.get(case))
        for language in LANGUAGES
        for case in SANDBOX_CASES
    }
    specs |= {
        (language, behaviour): (case.source, None)
        for behaviour, by in CASES.items()
        for language, case in by.items()
    }
    ids = {
        (language, case): register(client, language.value, source, limits, name=f"lang-{language}-{case}")
        for (language, case), (source, limits) in specs.items()
    }
    found = wait_compiled(client, list(ids.values()), timeout=120)
    for (language, case), fid in ids.items():
        expected = "FAILED" if case in COMPILE_FAILURES else "READY"
        assert found[fid]["status"] == expected, (language, case, found[fid]["compileError"])
    return ids


@pytest.fixture(params=LANGUAGES, ids=lambda language: language.value)
def language(request) -> Language:
    return request.param


def _matches_all(text: str, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        assert re.search(pattern, text), (pattern, text)


# -- results ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [UNICODE, UNICODE_INPUT], ids=["unicode", "unicode-quotes"])
def test_an_execution_returns_unicode_and_nested_json_unchanged(client, fns, language, value):
    execution = execute(client, fns[language, "echo"], value)

    assert execution["status"] == "COMPLETED", execution["errorMessage"]
    assert execution["output"] == value
    assert execution["input"] == value
    assert execution["errorMessage"] is None
    assert execution["functionId"] == fns[language, "echo"]
    assert execution["triggerType"] == "API"


@languages("add")
def test_add_returns_the_sum(client, fns, language):
    execution = execute(client, fns[language, "add"], CASES["add"][language].input)

    assert execution["status"] == "COMPLETED", execution["errorMessage"]
    assert execution["output"] == {"sum": 42}


@languages("throws")
def test_a_thrown_error_fails_with_its_message_and_where_it_was_thrown(client, fns, language):
    execution = execute(client, fns[language, "throws"], {"n": 7})

    assert execution["status"] == "FAILED"
    _matches_all(execution["errorMessage"], CASES["throws"][language].error)
    assert execution["output"] is None
    assert_healthy(client)


@languages("console")
def test_console_output_goes_to_the_logs(client, fns, language):
    done = execute(client, fns[language, "console"], {"n": 42})

    execution = client.get(f"/executions/{done['id']}").get_json()

    assert execution["status"] == "COMPLETED"
    assert execution["logs"] == CASES["console"][language].logs


@languages("async")
def test_an_async_handle_is_awaited(client, fns, language):
    case = CASES["async"][language]
    execution = execute(client, fns[language, "async"], case.input)

    assert execution["status"] == "COMPLETED", execution["errorMessage"]
    assert execution["output"] == case.output


# -- compile failures -------------------------------------------------------------------------------


@languages("syntax_error")
def test_a_syntax_error_fails_at_compile_time_with_line_and_column(client, fns, language):
    fid = fns[language, "syntax_error"]

    _matches_all(compile_error(client, fid), CASES["syntax_error"][language].error)
    expect_error(client.post(f"/functions/{fid}/execute", json={"input": {}}), 400)


@languages("no_handle")
def test_a_source_without_handle_fails_at_compile_time(client, fns, language):
    fid = fns[language, "no_handle"]

    _matches_all(compile_error(client, fid), CASES["no_handle"][language].error)
    expect_error(client.post(f"/functions/{fid}/execute", json={"input": {}}), 400)


# -- the sandbox's limits ----------------------------------------------------------------------------


def test_an_endless_loop_times_out_within_its_limit(client, fns, language):
    started = time.monotonic()
    execution = execute(client, fns[language, "loop"])

    assert execution["status"] == "TIMEOUT"
    assert "time limit of 1000 ms" in execution["errorMessage"]
    assert time.monotonic() - started < 2.5
    assert execute(client, fns[language, "echo"], {"after": "loop"})["status"] == "COMPLETED"
    assert_healthy(client)


def test_an_execution_with_a_memory_bomb_fails_out_of_memory(client, fns, language):
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
