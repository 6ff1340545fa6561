"""The compile pipeline end to end: HTTP API → compilation_jobs → compiler (real asc) →
compilation_results → consumer → functions, with the real worker processes (flows 1, 2, 6)."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from infra.settings import Settings
from tasks.app import broker
from tasks.apply_result import apply_compilation_result
from tasks.contracts import APPLY_RESULT_TASK, COMPILE_TASK, CompilationResult
from tests.conftest import throwaway_database
from tests.integration.conftest import Processes, wait_for
from web.app import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ECHO = (FIXTURES / "assemblyscript" / "echo.ts").read_text()
TYPE_ERROR = 'export function handle(input: string): string {\n  let n: i32 = "text";\n  return input;\n}\n'
JS_ADD = (FIXTURES / "javascript" / "add.js").read_text()
JS_SYNTAX_ERROR = "function handle(input) {\n  return input +* 2;\n}\n"
DEFAULT_TENANT = "00000000-0000-0000-0000-000000000001"
LINE_COL = re.compile(r"\d+:\d+|\(\d+,\d+\)|line \d+, column \d+")
TIMEOUT = 60


def suffixed(suffix: str) -> str:
    return f'export function handle(input: string): string {{ return input + "{suffix}"; }}'


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


# -- helpers ----------------------------------------------------------------------------------


def register(client, source: str, language: str = "assemblyscript", name: str = "f") -> str:
    resp = client.post("/functions", json={"name": name, "language": language, "source": source})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def settled(client, function_id: str, timeout: float = TIMEOUT) -> dict:
    """The function once it is READY or FAILED."""

    def done():
        data = client.get(f"/functions/{function_id}").get_json()
        return data if data["status"] in ("READY", "FAILED") else None

    return wait_for(done, timeout)


def binary_of(db, function_id: str) -> bytes | None:
    row = db.execute("SELECT wasm_binary FROM functions WHERE id = %s", (function_id,)).fetchone()
    return None if row[0] is None else bytes(row[0])


def queues_idle(db) -> bool:
    """Nothing waiting or in flight on the compile queues."""
    counts = db.execute(
        "SELECT (SELECT count(*) FROM pgmq.q_compilation_jobs) "
        "+ (SELECT count(*) FROM pgmq.q_compilation_results)"
    ).fetchone()[0]
    return counts == 0


def log_events(name: str, **match) -> list[dict]:
    """The JSON log lines a worker of this test session wrote that match the given fields."""
    path = Path(f"/tmp/pnil-test-{name}-{os.getpid()}.log")
    events = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if all(record.get(k) == v for k, v in match.items()):
            events.append(record)
    return events


def send_result(db, result: dict) -> int:
    return db.execute(
        "SELECT pgmq.send('compilation_results', %s, %s, 0)",
        (Jsonb(result), Jsonb({"task": APPLY_RESULT_TASK})),
    ).fetchone()[0]


def admin_queues(client) -> dict[str, dict]:
    resp = client.get("/admin/queues")
    assert resp.status_code == 200
    return {q["queue"]: q for q in resp.get_json()}


# -- flows 1 and 2 ----------------------------------------------------------------------------


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
    function_id = register(api, ECHO, name="twice")
    assert settled(api, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(sdb), TIMEOUT)
    before = sdb.execute(
        "SELECT status, wasm_binary, compile_error, revision FROM functions WHERE id = %s", (function_id,)
    ).fetchone()
    dead_before = admin_queues(api)["compilation_results"]["deadLettered"]
    result = CompilationResult(
        function_id=uuid.UUID(function_id),
        tenant_id=uuid.UUID(DEFAULT_TENANT),
        success=True,
        wasm_binary=bytes(before[1]),
        error=None,
        revision=1,
    ).to_json()

    send_result(sdb, result)
    send_result(sdb, result)

    wait_for(lambda: queues_idle(sdb), TIMEOUT)
    after = sdb.execute(
        "SELECT status, wasm_binary, compile_error, revision FROM functions WHERE id = %s", (function_id,)
    ).fetchone()
    assert after == before
    assert admin_queues(api)["compilation_results"]["deadLettered"] == dead_before
    assert len(log_events("consumer", event="compilation.result.applied", functionId=function_id)) == 3


def test_the_task_applied_twice_in_process_gives_the_same_state(shared_url, shared_client, sdb):
    # Given a PENDING function whose job no compiler will take (the pipeline is not needed here)
    function_id = register(shared_client, ECHO, name="direct")
    sdb.execute("DELETE FROM pgmq.q_compilation_jobs WHERE message->>'functionId' = %s", (function_id,))
    payload = CompilationResult(
        function_id=uuid.UUID(function_id),
        tenant_id=uuid.UUID(DEFAULT_TENANT),
        success=False,
        wasm_binary=None,
        error="ERROR TS2304: Cannot find name 'x'. at input.ts:1:5",
        revision=1,
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


def test_an_old_revision_result_is_ignored(api, sdb):
    function_id = register(api, suffixed("old"), name="stale")
    api.put(f"/functions/{function_id}", json={"source": suffixed("new")})
    assert settled(api, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(sdb), TIMEOUT)
    current = binary_of(sdb, function_id)

    # A late failure for revision 1 (the replaced source) arrives.
    send_result(
        sdb,
        {
            "functionId": function_id,
            "tenantId": DEFAULT_TENANT,
            "success": False,
            "wasmBinary": None,
            "error": "stale failure",
            "revision": 1,
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
            "functionId": function_id,
            "tenantId": str(uuid.uuid4()),
            "success": False,
            "wasmBinary": None,
            "error": "not yours",
            "revision": 1,
        },
    )

    assert wait_for(lambda: log_events("consumer", event="compilation.result.stale", functionId=function_id))
    data = api.get(f"/functions/{function_id}").get_json()
    assert (data["status"], data["compileError"]) == ("READY", None)


def test_a_function_deleted_while_compiling_leaves_no_dead_letters(api, sdb):
    dead_before = {name: q["deadLettered"] for name, q in admin_queues(api).items()}
    function_id = register(api, ECHO, name="short-lived")
    assert api.delete(f"/functions/{function_id}").status_code == 204

    wait_for(lambda: queues_idle(sdb), TIMEOUT)

    assert {name: q["deadLettered"] for name, q in admin_queues(api).items()} == dead_before
    assert sdb.execute("SELECT count(*) FROM functions WHERE id = %s", (function_id,)).fetchone()[0] == 0


# -- crashes and the admin view (each with its own database and processes) ---------------------


def test_a_result_read_by_a_consumer_that_died_is_reapplied_harmlessly(database_url, db, processes, client):
    # Given a compiled result on the queue and no consumer yet
    processes.worker("compilation_jobs", "compiler")
    function_id = register(client, ECHO, name="crash")
    wait_for(
        lambda: db.execute("SELECT count(*) FROM pgmq.q_compilation_results").fetchone()[0] == 1, TIMEOUT
    )
    # A consumer reads it, applies it, and dies before deleting it (its visibility lapses).
    msg_id, read_ct, message = db.execute(
        "SELECT msg_id, read_ct, message FROM pgmq.read('compilation_results', 1, 1)"
    ).fetchone()
    assert read_ct == 1
    broker.connect(database_url)
    try:
        apply_compilation_result(message, None)
    finally:
        broker.close()
    applied = db.execute("SELECT status, wasm_binary FROM functions WHERE id = %s", (function_id,)).fetchone()
    assert applied[0] == "READY"

    # When a consumer starts, it gets the message again once its visibility lapsed
    processes.worker("compilation_results", "consumer")

    wait_for(lambda: queues_idle(db), TIMEOUT)
    assert (
        db.execute("SELECT status, wasm_binary FROM functions WHERE id = %s", (function_id,)).fetchone()
        == applied
    )
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_results").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_jobs").fetchone()[0] == 0
    assert log_events("consumer", event="compilation.result.applied", functionId=function_id)


def test_a_consumer_killed_mid_message_loses_nothing(database_url, db, processes, client):
    # Given a consumer stuck applying a result (the test holds the function's row lock)
    processes.worker("compilation_jobs", "compiler")
    function_id = register(client, ECHO, name="killed")
    wait_for(
        lambda: db.execute("SELECT count(*) FROM pgmq.q_compilation_results").fetchone()[0] == 1, TIMEOUT
    )
    with psycopg.connect(database_url) as locker:
        locker.execute("SELECT 1 FROM functions WHERE id = %s FOR UPDATE", (function_id,))
        consumer = processes.worker("compilation_results", "consumer")
        wait_for(
            lambda: (
                db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE functions SET status%%'"
                ).fetchone()[0]
                == 1
            ),
            TIMEOUT,
        )
        # When it is killed with SIGKILL before it could delete the message
        os.killpg(consumer.pid, signal.SIGKILL)
        consumer.wait(10)
        locker.rollback()
    msg_id, read_ct = db.execute("SELECT msg_id, read_ct FROM pgmq.q_compilation_results").fetchone()
    assert read_ct == 1
    # (its visibility timeout would lapse on its own; the test does not wait 30 s for it)
    db.execute("SELECT pgmq.set_vt('compilation_results', %s, 0)", (msg_id,))

    # Then another consumer applies it, and the function ends READY with its binary
    processes.worker("compilation_results", "consumer")
    data = settled(client, function_id)
    assert data["status"] == "READY"
    assert binary_of(db, function_id).startswith(b"\0asm")
    wait_for(lambda: queues_idle(db), TIMEOUT)
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_results").fetchone()[0] == 0


def test_a_compiler_killed_mid_job_loses_nothing(database_url, db, processes, client):
    # Given a compiler that marked the function COMPILING, compiled it, and is stuck publishing
    # the result (the test holds a lock on the results queue)
    with psycopg.connect(database_url) as locker:
        locker.execute("LOCK TABLE pgmq.q_compilation_results IN EXCLUSIVE MODE")
        compiler = processes.worker("compilation_jobs", "compiler")
        function_id = register(client, ECHO, name="compiler-crash")
        wait_for(
            lambda: (
                db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%%pgmq.send%%'"
                ).fetchone()[0]
                == 1
            ),
            TIMEOUT,
        )
        assert db.execute("SELECT status FROM functions WHERE id = %s", (function_id,)).fetchone() == (
            "COMPILING",
        )
        # When it is killed with SIGKILL
        os.killpg(compiler.pid, signal.SIGKILL)
        compiler.wait(10)
        locker.rollback()
    msg_id, read_ct = db.execute("SELECT msg_id, read_ct FROM pgmq.q_compilation_jobs").fetchone()
    assert read_ct == 1
    db.execute("SELECT pgmq.set_vt('compilation_jobs', %s, 0)", (msg_id,))  # skip the 120 s wait

    # Then the job reappears, a new compiler takes it, and the function ends READY
    processes.compile_pipeline()
    assert settled(client, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(db), TIMEOUT)
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_jobs").fetchone()[0] == 0


def test_admin_queues_follow_messages_and_dead_letters(db, processes, client):
    # Given no workers: registrations pile up on compilation_jobs
    empty = admin_queues(client)
    assert set(empty) >= {"compilation_jobs", "compilation_results", "executions", "events"}
    assert empty["compilation_jobs"]["depth"] == 0
    assert empty["compilation_jobs"]["oldestMessageAgeSeconds"] is None
    ids = [register(client, suffixed(f"q{i}"), name=f"q{i}") for i in range(3)]

    waiting = admin_queues(client)["compilation_jobs"]
    assert (waiting["depth"], waiting["inFlight"], waiting["totalSent"]) == (3, 0, 3)
    assert waiting["oldestMessageAgeSeconds"] >= 0
    db.execute("SELECT pgmq.read('compilation_jobs', 1, 1)")  # one in flight, back in 1 s
    taken = admin_queues(client)["compilation_jobs"]
    assert (taken["depth"], taken["inFlight"]) == (2, 1)

    # When the pipeline starts, both queues drain
    processes.compile_pipeline()
    for function_id in ids:
        assert settled(client, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(db), TIMEOUT)
    drained = admin_queues(client)
    assert drained["compilation_jobs"]["depth"] == drained["compilation_jobs"]["inFlight"] == 0
    assert drained["compilation_results"]["depth"] == 0
    assert drained["compilation_results"]["totalSent"] == 3
    assert drained["compilation_results"]["deadLettered"] == 0

    # A malformed result is dead-lettered
    send_result(db, {"functionId": "not-a-uuid", "success": True})
    wait_for(lambda: admin_queues(client)["compilation_results"]["deadLettered"] == 1, TIMEOUT)

    # A job for a language this compiler does not handle is dead-lettered with a log line
    cobol_id = str(uuid.uuid4())
    job = {
        "functionId": cobol_id,
        "tenantId": DEFAULT_TENANT,
        "language": "cobol",
        "source": "x",
        "revision": 1,
    }
    db.execute("SELECT pgmq.send('compilation_jobs', %s, %s, 0)", (Jsonb(job), Jsonb({"task": COMPILE_TASK})))
    wait_for(lambda: admin_queues(client)["compilation_jobs"]["deadLettered"] == 1, TIMEOUT)
    assert wait_for(lambda: log_events("compiler", event="job.failed", functionId=cobol_id))
    archived = db.execute("SELECT message FROM pgmq.a_compilation_jobs").fetchone()[0]
    assert archived["language"] == "cobol"

    # and the compiler keeps working
    assert all(p.poll() is None for p in processes.procs)
    assert settled(client, register(client, ECHO, name="after"))["status"] == "READY"
