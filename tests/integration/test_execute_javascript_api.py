"""What only JavaScript functions do through the HTTP API (QuickJS-NG: NUL characters, stderr, a
request body's edge cases); what every language does is in test_language_api.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import (
    assert_healthy,
    execute,
    expect_error,
    register_compiled,
)

__all__ = ["api"]  # fixture used below

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "javascript"
MIB = 1024 * 1024
SOURCES = {
    "echo": ((FIXTURES / "echo.js").read_text(), None),
    "nul_output": ("function handle() { return {text: 'a\\u0000b'}; }", None),
    "nul_logs": ("function handle() { console.log('x\\u0000y'); throw new Error('e\\u0000'); }", None),
    "deep_output": (
        "function handle() { let v = []; for (let i = 0; i < 5000; i++) v = [v]; return v; }",
        None,
    ),
    "stderr_flood": (
        "async function handle() { const std = await import('qjs:std');"
        " std.err.puts('A'.repeat(1000000)); throw new Error('B'.repeat(2000000)); }",
        None,
    ),
    "slow": (
        "function handle() { const end = Date.now() + 1500; while (Date.now() < end) {} return 1; }",
        None,
    ),
}


@pytest.fixture(scope="module")
def fns(api) -> dict[str, str]:
    """Every function of this module, registered at once and compiled: name → id."""
    return register_compiled(api.test_client(), "javascript", SOURCES, prefix="js")


def test_output_with_a_nul_character_fails_cleanly(client, fns):
    execution = execute(client, fns["nul_output"])

    assert execution["status"] == "FAILED"
    assert "\\u0000" in execution["errorMessage"]
    assert_healthy(client)


def test_nul_characters_in_logs_and_errors_are_kept_visible(client, fns):
    execution = execute(client, fns["nul_logs"])

    assert execution["status"] == "FAILED"
    assert "x\\0y" in execution["logs"] and "e\\0" in execution["errorMessage"]
    assert client.get(f"/executions/{execution['id']}").status_code == 200


def test_deeply_nested_output_fails_and_is_recorded(client, fns):
    execution = execute(client, fns["deep_output"])

    assert execution["status"] == "FAILED", execution
    assert client.get(f"/executions/{execution['id']}").get_json()["status"] == "FAILED"
    assert_healthy(client)


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        ('{"input": {"x": NaN}}', "application/json", 400),
        ('{"input": {"x": Infinity}}', "application/json", 400),
        ('{"input": {"x": "a\\u0000b"}}', "application/json", 400),
        ('{"input": {"a\\u0000": 1}}', "application/json", 400),
        ('{"input": ' + "[" * 100_000 + "]" * 100_000 + "}", "application/json", 400),
        (b'{"input": {"x": "\xff"}}', "application/json", 400),
        ("hello", "text/plain", 415),
    ],
    ids=["nan", "infinity", "nul-value", "nul-key", "deep", "not-utf8", "not-json-content-type"],
)
def test_hostile_request_bodies_get_a_json_error_and_record_nothing(client, fns, body, content_type, status):
    before = len(client.get(f"/functions/{fns['echo']}/executions").get_json())
    resp = client.post(f"/functions/{fns['echo']}/execute", data=body, content_type=content_type)

    expect_error(resp, status)
    assert len(client.get(f"/functions/{fns['echo']}/executions").get_json()) == before
    assert_healthy(client)


def test_an_empty_body_runs_with_an_empty_input(client, fns):
    resp = client.post(f"/functions/{fns['echo']}/execute")

    assert resp.status_code == 200 and resp.get_json()["output"] == {}


def test_logs_and_error_messages_stay_capped_whatever_the_guest_writes(client, fns):
    execution = execute(client, fns["stderr_flood"])

    assert execution["status"] == "FAILED"
    assert len(execution["logs"]) <= 64 * 1024 + 100 and execution["logs"].endswith("[logs truncated]")
    assert len(execution["errorMessage"]) <= 8 * 1024 + 100


def test_deleting_a_function_during_its_execution_answers_404_not_500(api, fns):
    answers = []
    worker = threading.Thread(
        target=lambda: answers.append(api.test_client().post(f"/functions/{fns['slow']}/execute", json={}))
    )
    worker.start()
    time.sleep(0.5)
    assert api.test_client().delete(f"/functions/{fns['slow']}").status_code == 204
    worker.join(10)

    expect_error(answers[0], 404)
    assert "deleted while this execution ran" in answers[0].get_json()["message"]
