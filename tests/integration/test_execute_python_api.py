"""What only Python functions do through the HTTP API (the CPython runtime: its context argument, no
filesystem, no memory figure); what every language does is in test_language_api.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import (
    execute,
    register_compiled,
)

__all__ = ["api"]  # fixture used below

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "python"
MIB = 1024 * 1024
SOURCES = {
    "add": ((FIXTURES / "add.py").read_text(), None),
    "throws": ("def handle(input):\n    raise TypeError(f\"bad input: {input['n']}\")\n", None),
    "context": (
        "def handle(input, context):\n    return [context['version'], context['trigger']['type']]\n",
        None,
    ),
    "escape": ("def handle(input):\n    return open('/etc/passwd').read()\n", None),
}


@pytest.fixture(scope="module")
def fns(api) -> dict[str, str]:
    """Every function of this module, registered at once and compiled: name → id."""
    return register_compiled(api.test_client(), "python", SOURCES, prefix="py")


def test_memory_peak_is_null_not_a_zero_that_looks_measured(client, fns):
    # given a completed Python execution, expect no memory figure rather than a made-up 0
    execution = execute(client, fns["add"], {"a": 1, "b": 2})

    assert execution["metrics"]["memoryPeakBytes"] is None
    assert execution["metrics"]["durationMs"] > 0


def test_the_function_reads_back_as_python(client, fns):
    fn = client.get(f"/functions/{fns['add']}").get_json()

    assert fn["language"] == "python"
    assert fn["source"] == SOURCES["add"][0]


def test_handle_sees_the_trigger_context(client, fns):
    assert execute(client, fns["context"])["output"] == [1, "API"]


def test_the_filesystem_is_not_there(client, fns):
    execution = execute(client, fns["escape"])

    assert execution["status"] == "FAILED"
    assert execution["errorMessage"].startswith("FileNotFoundError")


def test_the_python_filter_lists_python_functions(client, fns):
    listed = client.get("/functions?language=python&limit=100").get_json()

    assert {fns["add"], fns["throws"]} <= {fn["id"] for fn in listed}
    assert {fn["language"] for fn in listed} == {"python"}
