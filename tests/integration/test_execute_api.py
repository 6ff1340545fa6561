"""Sync execute and execution history through the HTTP API (with AssemblyScript functions; what
every language does is in test_language_api.py).

Real compiler and consumer processes compile every function once per module (real asc),
the Flask app runs them in its real runner pool (real wasmtime subprocesses).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import wasmtime

from runner.logs import TRUNCATED_MARKER
from tests.integration.api_fixtures import api
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import (
    assert_healthy,
    execute,
    execute_retrying,
    expect_error,
    ready_function,
    register,
    wait_compiled,
)

__all__ = ["api"]  # fixture used below

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LOG_SPAM = """
export function handle(input: string): string {
  for (let i = 0; i < 5000; i++) {
    console.log("line " + i.toString() + " of the log spam");
  }
  return '{"logged": 5000}';
}
"""
# A valid module with the runtime exports but no `handle`: must fail at compile time.
WAT_WITHOUT_HANDLE = """
(module
  (memory (export "memory") 1)
  (func (export "__new") (param i32 i32) (result i32) i32.const 0)
  (func (export "__pin") (param i32) (result i32) local.get 0)
  (func (export "__unpin") (param i32)))
"""


# -- fixtures -------------------------------------------------------------------------------------


def _as(name: str) -> str:
    return (FIXTURES / "assemblyscript" / f"{name}.ts").read_text()


@pytest.fixture(scope="module")
def fns(api) -> dict[str, str]:
    """Every function these tests run, registered at once and compiled: name → id."""
    client = api.test_client()
    wasm = base64.b64encode(wasmtime.wat2wasm(WAT_WITHOUT_HANDLE)).decode()
    specs = {
        "echo": ("assemblyscript", _as("echo"), None),
        "throws": ("assemblyscript", _as("throws"), None),
        "loop_long": ("assemblyscript", _as("loop"), {"maxExecutionTimeMs": 20_000}),
        "notjson": ("assemblyscript", _as("notjson"), None),
        "logging": ("assemblyscript", _as("logging"), None),
        "logspam": ("assemblyscript", LOG_SPAM, None),
        "deep_output": (
            "assemblyscript",
            "export function handle(input: string): string "
            "{ return '['.repeat(100000) + ']'.repeat(100000); }",
            None,
        ),
        "broken": ("assemblyscript", "export function handle(input: string): string { return 1 }", None),
        "no_handle": ("wasm", wasm, None),
    }
    ids = {
        name: register(client, lang, src, limits, name=name) for name, (lang, src, limits) in specs.items()
    }
    found = wait_compiled(client, list(ids.values()))
    for name in ("broken", "no_handle"):
        assert found[ids[name]]["status"] == "FAILED", found[ids[name]]
    for name, fid in ids.items():
        if name not in ("broken", "no_handle"):
            assert found[fid]["status"] == "READY", (name, found[fid]["compileError"])
    return ids


# -- results --------------------------------------------------------------------------------------


def test_each_sync_execute_has_one_audit_line_with_its_answer(api, client, fns):
    path = f"/functions/{fns['broken']}/execute"
    expect_error(client.post(path, json={"input": {}}), 400)
    execution = execute(client, fns["echo"], {"n": 1})  # its end's statement writes its line

    with psycopg.connect(api.config["TEST_DATABASE_URL"]) as conn:
        lines = conn.execute(
            "SELECT status, target FROM audit_log WHERE action = 'POST /functions/<fn:function_id>/execute' "
            "AND target = ANY(%s) ORDER BY id",
            ([fns["broken"], fns["echo"]],),
        ).fetchall()

    assert execution["status"] == "COMPLETED"
    assert lines[-2:] == [(400, fns["broken"]), (200, fns["echo"])]
    assert sum(1 for _, target in lines if target == fns["echo"]) == _echo_executes(api, fns["echo"])


def test_output_that_is_not_json_fails(client, fns):
    execution = execute(client, fns["notjson"])

    assert execution["status"] == "FAILED"
    assert "JSON" in execution["errorMessage"]
    assert_healthy(client)


def test_module_without_handle_fails_at_compile_time(client, fns):
    fn = client.get(f"/functions/{fns['no_handle']}").get_json()

    assert fn["status"] == "FAILED"
    assert fn["compileError"].startswith("invalid ABI export")
    assert "handle" in fn["compileError"]
    expect_error(client.post(f"/functions/{fns['no_handle']}/execute", json={"input": {}}), 400)


def test_runner_killed_mid_execution_fails_only_that_execution(api, client, fns):
    pids = api.extensions["pnil.executions"].runners.pids() if "pnil.executions" in api.extensions else []
    if not pids:  # the pool starts on first use
        execute(client, fns["echo"])
        pids = api.extensions["pnil.executions"].runners.pids()
    results = {}
    thread = threading.Thread(
        target=lambda: results.update(execution=execute(api.test_client(), fns["loop_long"]))
    )
    started = time.monotonic()
    thread.start()

    def running():
        rows = client.get(f"/functions/{fns['loop_long']}/executions").get_json()
        return any(row["status"] == "RUNNING" for row in rows)

    wait_for(running, timeout=10)
    time.sleep(0.3)  # let the request reach the subprocess
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    thread.join(15)

    assert not thread.is_alive()
    assert time.monotonic() - started < 10, "the killed run waited for its time limit"
    assert results["execution"]["status"] == "FAILED"
    assert "runner subprocess died" in results["execution"]["errorMessage"]
    assert "SIGKILL" in results["execution"]["errorMessage"]
    assert execute(client, fns["echo"], {"next": 1})["output"] == {"next": 1}
    assert_healthy(client)


def test_64_concurrent_executions_all_complete(api, fns):
    """One tenant's burst beyond its share of the sandboxes is told to retry (429), never lost."""
    results: list[dict] = []
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            resp = execute_retrying(api.test_client(), fns["echo"], {"i": i, "name": "Zoë"})
            assert resp.status_code == 200, resp.get_data(as_text=True)
            results.append(resp.get_json())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors, errors[:3]
    assert len(results) == 64
    assert all(r["status"] == "COMPLETED" for r in results), [r["errorMessage"] for r in results]
    assert sorted(r["output"]["i"] for r in results) == list(range(64))
    assert len({r["id"] for r in results}) == 64
    assert_healthy(api.test_client())


# -- refusals ---------------------------------------------------------------------------------------


def test_compile_failed_function_is_refused_with_400(client, fns):
    data = expect_error(client.post(f"/functions/{fns['broken']}/execute", json={"input": {}}), 400)

    assert "not READY" in data["message"] and "FAILED" in data["message"]
    assert client.get(f"/functions/{fns['broken']}/executions").get_json() == []


def test_pending_function_is_refused_with_400(api, client):
    fid = ready_function(client, "assemblyscript", _as("echo"))
    # A new version that is waiting for the compiler: hold it PENDING where no compiler sees it.
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("UPDATE functions SET status = 'PENDING' WHERE id = %s", (fid,))

    data = expect_error(client.post(f"/functions/{fid}/execute", json={"input": {}}), 400)

    assert "PENDING" in data["message"]
    assert_healthy(client)


@pytest.mark.parametrize("value", ["text", [1, 2], 42, None, True])
def test_input_that_is_not_an_object_is_refused_with_400(client, fns, value):
    data = expect_error(client.post(f"/functions/{fns['echo']}/execute", json={"input": value}), 400)

    assert "input" in json.dumps(data)
    assert_healthy(client)


def test_unknown_function_is_404(client):
    expect_error(client.post(f"/functions/{uuid.uuid4()}/execute", json={"input": {}}), 404)
    expect_error(client.get(f"/functions/{uuid.uuid4()}/executions"), 404)
    expect_error(client.get(f"/executions/{uuid.uuid4()}"), 404)
    assert_healthy(client)


def test_malformed_json_body_is_400(client, fns):
    resp = client.post(
        f"/functions/{fns['echo']}/execute", data=b'{"input": {', content_type="application/json"
    )

    expect_error(resp, 400)
    assert_healthy(client)


# -- history and logs -----------------------------------------------------------------------------


def test_history_is_newest_first_and_paginated(client):
    fid = ready_function(client, "assemblyscript", _as("echo"))
    ids = [execute(client, fid, {"n": n})["id"] for n in range(5)]

    listed = client.get(f"/functions/{fid}/executions").get_json()
    page = client.get(f"/functions/{fid}/executions?limit=2&offset=1").get_json()

    assert [row["id"] for row in listed] == ids[::-1]
    assert [row["input"] for row in listed] == [{"n": n} for n in reversed(range(5))]
    assert [row["id"] for row in page] == [ids[3], ids[2]]


def test_execution_by_id_has_times_metrics_and_logs(client, fns):
    done = execute(client, fns["logging"], {"x": "ü"})

    execution = client.get(f"/executions/{done['id']}").get_json()

    assert execution["status"] == "COMPLETED"
    assert execution["input"] == {"x": "ü"}
    assert execution["output"] == {"logged": 0}
    assert execution["errorMessage"] is None
    assert execution["createdAt"] <= execution["startedAt"] <= execution["completedAt"]
    assert execution["metrics"]["durationMs"] > 0
    assert execution["metrics"]["memoryPeakBytes"] > 0
    assert "started" in execution["logs"]
    assert "hello from console.log" in execution["logs"]
    assert done == execution  # the execute response is the stored execution, field for field


def test_failed_execution_by_id_keeps_the_error(client, fns):
    done = execute(client, fns["throws"], {"x": 1})

    execution = client.get(f"/executions/{done['id']}").get_json()

    assert execution["status"] == "FAILED"
    assert "something went wrong" in execution["errorMessage"]
    assert execution["completedAt"] is not None
    assert done == execution


def test_an_executions_logs_are_capped_with_a_visible_marker(client, fns):
    execution = execute(client, fns["logspam"])

    assert execution["status"] == "COMPLETED"
    assert execution["logs"].startswith("line 0 of the log spam")
    assert execution["logs"].endswith(TRUNCATED_MARKER)
    assert len(execution["logs"].encode()) <= 64 * 1024 + len(TRUNCATED_MARKER.encode())
    assert "line 4999" not in execution["logs"]


def test_structured_events_carry_execution_and_function_ids(client, fns, caplog):
    caplog.set_level(logging.INFO)
    ok = execute(client, fns["echo"], {"a": 1})
    bad = execute(client, fns["throws"], {"a": 1})

    def events(name):
        return [r for r in caplog.records if r.getMessage() == name]

    started = {(r.executionId, r.functionId) for r in events("execution.started")}
    assert (ok["id"], fns["echo"]) in started
    assert (bad["id"], fns["throws"]) in started
    assert [(r.executionId, r.functionId) for r in events("execution.completed")] == [(ok["id"], fns["echo"])]
    failed = events("execution.failed")
    assert [(r.executionId, r.functionId) for r in failed] == [(bad["id"], fns["throws"])]
    assert failed[0].status == "FAILED"


def test_output_nested_too_deeply_fails_with_a_clear_message(client, fns):
    execution = execute(client, fns["deep_output"])

    assert execution["status"] == "FAILED"
    assert "nested too deeply" in execution["errorMessage"]
    assert_healthy(client)


def _echo_executes(api, function_id: str) -> int:
    with psycopg.connect(api.config["TEST_DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT count(*) FROM executions WHERE function_id = %s AND trigger_type = 'API'", (function_id,)
        ).fetchone()[0]
