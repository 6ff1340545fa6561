"""Python functions through the HTTP API: checked by the real compiler, run in the CPython runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.api_fixtures import api, client
from tests.integration.execute_helpers import (
    compile_error,
    execute,
    expect_error,
    register_compiled,
)

__all__ = ["api", "client"]  # fixtures used below

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "python"
MIB = 1024 * 1024
SOURCES = {
    "add": ((FIXTURES / "add.py").read_text(), None),
    "throws": ("def handle(input):\n    raise TypeError(f\"bad input: {input['n']}\")\n", None),
    "prints": (
        "import sys\ndef handle(input):\n    print('hello', input['n'])\n"
        "    print('went wrong', file=sys.stderr)\n    return {'ok': True}\n",
        None,
    ),
    "context": (
        "def handle(input, context):\n    return [context['version'], context['trigger']['type']]\n",
        None,
    ),
    "async": (
        "async def double(n):\n    return 2 * n\n\nasync def handle(input):\n    return await double(21)\n",
        None,
    ),
    "escape": ("def handle(input):\n    return open('/etc/passwd').read()\n", None),
    "syntax_error": ("def handle(input):\n    x = 1\n    return (x +)\n", None),
    "no_handle": ("def main(input):\n    return 1\n", None),
}
COMPILE_FAILURES = {"syntax_error", "no_handle"}


@pytest.fixture(scope="module")
def fns(api) -> dict[str, str]:
    """Every function of this module, registered at once and compiled: name → id."""
    return register_compiled(api.test_client(), "python", SOURCES, prefix="py", failures=COMPILE_FAILURES)


def test_add_returns_the_sum(client, fns):
    execution = execute(client, fns["add"], {"a": 40, "b": 2})

    assert execution["status"] == "COMPLETED", execution["errorMessage"]
    assert execution["output"] == {"sum": 42}


def test_memory_peak_is_null_not_a_zero_that_looks_measured(client, fns):
    # given a completed Python execution, expect no memory figure rather than a made-up 0
    execution = execute(client, fns["add"], {"a": 1, "b": 2})

    assert execution["metrics"]["memoryPeakBytes"] is None
    assert execution["metrics"]["durationMs"] > 0


def test_the_function_reads_back_as_python(client, fns):
    fn = client.get(f"/functions/{fns['add']}").get_json()

    assert fn["language"] == "python"
    assert fn["source"] == SOURCES["add"][0]


def test_syntax_error_fails_at_compile_time_with_line_and_column(client, fns):
    error = compile_error(client, fns["syntax_error"])

    assert error == "SyntaxError: invalid syntax at line 3, column 16"
    expect_error(client.post(f"/functions/{fns['syntax_error']}/execute", json={"input": {}}), 400)


def test_missing_handle_fails_at_compile_time(client, fns):
    assert "no handle function defined" in compile_error(client, fns["no_handle"])


def test_exception_fails_with_type_message_and_traceback(client, fns):
    execution = execute(client, fns["throws"], {"n": 7})

    assert execution["status"] == "FAILED"
    assert execution["errorMessage"].startswith("TypeError: bad input: 7\nTraceback")
    assert 'File "function.py", line 2, in handle' in execution["errorMessage"]


def test_print_goes_to_the_logs(client, fns):
    done = execute(client, fns["prints"], {"n": 42})

    execution = client.get(f"/executions/{done['id']}").get_json()

    assert execution["status"] == "COMPLETED"
    assert execution["logs"] == "hello 42\nwent wrong"


def test_handle_sees_the_trigger_context(client, fns):
    assert execute(client, fns["context"])["output"] == [1, "API"]


def test_async_handle_is_awaited(client, fns):
    assert execute(client, fns["async"])["output"] == 42


def test_the_filesystem_is_not_there(client, fns):
    execution = execute(client, fns["escape"])

    assert execution["status"] == "FAILED"
    assert execution["errorMessage"].startswith("FileNotFoundError")


def test_the_python_filter_lists_python_functions(client, fns):
    listed = client.get("/functions?language=python&limit=100").get_json()

    assert {fns["add"], fns["throws"]} <= {fn["id"] for fn in listed}
    assert {fn["language"] for fn in listed} == {"python"}
