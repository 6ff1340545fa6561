"""The compile pipeline end to end: HTTP API → compilation_jobs → compiler (real asc) →
compilation_results → consumer → functions, with the real worker processes."""

from __future__ import annotations

import base64
import uuid

import psycopg
import pytest

from contracts.compilation import CONTRACT, CompilationResult
from infra.settings import Settings
from tasks.app import broker
from tasks.apply_result import apply_compilation_result
from tests.conftest import throwaway_database
from tests.integration.conftest import Processes, wait_for
from tests.integration.pipeline_helpers import (
    DEFAULT_TENANT,
    ECHO,
    JS_ADD,
    JS_SYNTAX_ERROR,
    LINE_COL,
    TIMEOUT,
    TYPE_ERROR,
    admin_headers,
    admin_queues,
    binary_of,
    log_events,
    queues_idle,
    register,
    send_result,
    settled,
    suffixed,
)
from web.app import create_app

# -- fixtures: one database and one running pipeline shared by the flow tests ------------------


@pytest.fixture(scope="module")
def shared_url(server_url, template_url):
    with throwaway_database(server_url, prefix="t_pipeline") as url:
        yield url


@pytest.fixture(scope="module")
def pipeline(shared_url):
    procs = Processes(shared_url)
    procs.compile_pipeline()
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def shared_client(shared_url):
    app = create_app(Settings(database_url=shared_url, allow_anonymous=True))
    yield app.test_client()
    app.extensions["pnil.db"].close()


@pytest.fixture
def sdb(shared_url):
    with psycopg.connect(shared_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def api(pipeline, shared_client):
    """The anonymous client of the shared database, with the pipeline running."""
    return shared_client


# -- register and update ----------------------------------------------------------------------------


def test_flow1_assemblyscript_echo_becomes_ready_with_a_binary(api, sdb):
    function_id = register(api, ECHO)

    data = settled(api, function_id)

    assert data["status"] == "READY", data["compileError"]
    assert data["compileError"] is None
    binary = binary_of(sdb, function_id)
    assert binary is not None and binary.startswith(b"\0asm")
    # The compiler says what it did, with the function's id, as JSON lines.
    for name in ("job.received", "job.compiled", "result.published"):
        assert log_events("compiler", event=name, functionId=function_id), name
    assert log_events("compiler", event="job.compiled", functionId=function_id)[0]["durationMs"] >= 0
    assert log_events("consumer", event="compilation.result.applied", functionId=function_id)


def test_flow2_type_error_fails_with_line_and_column(api, sdb):
    function_id = register(api, TYPE_ERROR)

    data = settled(api, function_id)

    assert data["status"] == "FAILED"
    assert LINE_COL.search(data["compileError"]), data["compileError"]
    assert "TS2322" in data["compileError"] or "not assignable" in data["compileError"]
    assert binary_of(sdb, function_id) is None
    assert log_events("compiler", event="job.failed", functionId=function_id)


def test_javascript_source_becomes_ready(api, sdb):
    function_id = register(api, JS_ADD, language="javascript")

    data = settled(api, function_id)

    assert data["status"] == "READY", data["compileError"]
    assert binary_of(sdb, function_id)


def test_javascript_syntax_error_fails_with_line_and_column(api):
    function_id = register(api, JS_SYNTAX_ERROR, language="javascript")

    data = settled(api, function_id)

    assert data["status"] == "FAILED"
    assert "SyntaxError" in data["compileError"]
    assert LINE_COL.search(data["compileError"]), data["compileError"]
    assert "2" in LINE_COL.search(data["compileError"]).group(0)


def test_wasm_module_built_by_asc_becomes_ready(api, sdb):
    echo_id = register(api, ECHO, name="echo-for-wasm")
    assert settled(api, echo_id)["status"] == "READY"
    module = binary_of(sdb, echo_id)

    function_id = register(api, base64.b64encode(module).decode(), language="wasm")

    data = settled(api, function_id)
    assert data["status"] == "READY", data["compileError"]
    assert binary_of(sdb, function_id) == module


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("this is not base64!", "base64"),
        (base64.b64encode(b"\0asm\x01\0\0\0garbage").decode(), "WebAssembly"),
        (base64.b64encode(b"hello world").decode(), "WebAssembly"),
    ],
)
def test_wasm_garbage_fails_with_a_clear_message(api, sdb, source, expected):
    function_id = register(api, source, language="wasm")

    data = settled(api, function_id)

    assert data["status"] == "FAILED"
    assert expected in data["compileError"]
    assert binary_of(sdb, function_id) is None


# -- idempotency and stale results ------------------------------------------------------------


def test_the_same_result_twice_through_the_queue_is_harmless(api, sdb):
    function_id = register(api, suffixed(uuid.uuid4().hex))  # a source never compiled: a real compile
    assert settled(api, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(sdb), TIMEOUT)
    before = sdb.execute(
        "SELECT status, wasm_binary, compile_error, version FROM functions WHERE id = %s", (function_id,)
    ).fetchone()
    admin = admin_headers(sdb)
    dead_before = admin_queues(api, admin)["compilation_results"]["deadLettered"]
    result = CompilationResult(
        function_id=uuid.UUID(function_id),
        tenant_id=uuid.UUID(DEFAULT_TENANT),
        success=True,
        wasm_binary=bytes(before[1]),
        error=None,
        version=1,
    ).to_json()

    send_result(sdb, result)
    send_result(sdb, result)

    wait_for(lambda: queues_idle(sdb), TIMEOUT)
    after = sdb.execute(
        "SELECT status, wasm_binary, compile_error, version FROM functions WHERE id = %s", (function_id,)
    ).fetchone()
    assert after == before
    assert admin_queues(api, admin)["compilation_results"]["deadLettered"] == dead_before
    assert len(log_events("consumer", event="compilation.result.applied", functionId=function_id)) == 3


def test_the_task_applied_twice_in_process_gives_the_same_state(shared_url, shared_client, sdb):
    # Given a PENDING function whose job no compiler will take (the pipeline is not needed here)
    function_id = register(shared_client, suffixed(uuid.uuid4().hex))  # never compiled: PENDING
    sdb.execute("DELETE FROM pgmq.q_compilation_jobs WHERE message->>'functionId' = %s", (function_id,))
    payload = CompilationResult(
        function_id=uuid.UUID(function_id),
        tenant_id=uuid.UUID(DEFAULT_TENANT),
        success=False,
        wasm_binary=None,
        error="ERROR TS2304: Cannot find name 'x'. at input.ts:1:5",
        version=1,
    ).to_json()
    broker.connect(shared_url)
    try:
        apply_compilation_result(payload, None)
        first = sdb.execute(
            "SELECT status, compile_error, wasm_binary FROM functions WHERE id = %s", (function_id,)
        ).fetchone()
        apply_compilation_result(payload, None)
        second = sdb.execute(
            "SELECT status, compile_error, wasm_binary FROM functions WHERE id = %s", (function_id,)
        ).fetchone()
    finally:
        broker.close()

    assert first == ("FAILED", "ERROR TS2304: Cannot find name 'x'. at input.ts:1:5", None)
    assert second == first


def test_two_quick_updates_the_last_source_wins(api, sdb):
    function_id = register(api, suffixed("v1"), name="quick")
    for version in ("v2", "v3"):
        resp = api.put(f"/functions/{function_id}", json={"source": suffixed(version)})
        assert resp.status_code == 200

    data = settled(api, function_id)
    wait_for(lambda: queues_idle(sdb), TIMEOUT)

    data = api.get(f"/functions/{function_id}").get_json()
    assert data["status"] == "READY"
    assert data["version"] == 3
    binary = binary_of(sdb, function_id)
    assert "v3".encode("utf-16-le") in binary
    assert "v2".encode("utf-16-le") not in binary
    assert "v1".encode("utf-16-le") not in binary


def test_an_old_version_result_is_ignored(api, sdb):
    function_id = register(api, suffixed("old"), name="stale")
    api.put(f"/functions/{function_id}", json={"source": suffixed("new")})
    assert settled(api, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(sdb), TIMEOUT)
    current = binary_of(sdb, function_id)

    # A late failure for version 1 (the replaced source) arrives.
    send_result(
        sdb,
        {
            "contract": CONTRACT,
            "functionId": function_id,
            "tenantId": DEFAULT_TENANT,
            "success": False,
            "wasmBinary": None,
            "error": "stale failure",
            "version": 1,
        },
    )

    wait_for(lambda: queues_idle(sdb), TIMEOUT)
    data = api.get(f"/functions/{function_id}").get_json()
    assert (data["status"], data["compileError"], data["version"]) == ("READY", None, 2)
    assert binary_of(sdb, function_id) == current
    assert wait_for(lambda: log_events("consumer", event="compilation.result.stale", functionId=function_id))


def test_a_result_naming_another_tenant_is_not_applied(api, sdb):
    function_id = register(api, ECHO, name="tenant-bound")
    assert settled(api, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(sdb), TIMEOUT)

    send_result(
        sdb,
        {
            "contract": CONTRACT,
            "functionId": function_id,
            "tenantId": str(uuid.uuid4()),
            "success": False,
            "wasmBinary": None,
            "error": "not yours",
            "version": 1,
        },
    )

    assert wait_for(lambda: log_events("consumer", event="compilation.result.stale", functionId=function_id))
    data = api.get(f"/functions/{function_id}").get_json()
    assert (data["status"], data["compileError"]) == ("READY", None)


def test_a_function_deleted_while_compiling_leaves_no_dead_letters(api, sdb):
    admin = admin_headers(sdb)
    dead_before = {name: q["deadLettered"] for name, q in admin_queues(api, admin).items()}
    function_id = register(api, ECHO, name="short-lived")
    assert api.delete(f"/functions/{function_id}").status_code == 204

    wait_for(lambda: queues_idle(sdb), TIMEOUT)

    assert {name: q["deadLettered"] for name, q in admin_queues(api, admin).items()} == dead_before
    assert sdb.execute("SELECT count(*) FROM functions WHERE id = %s", (function_id,)).fetchone()[0] == 0
