"""A compile job that dies still ends COMPILING; a duplicate failing job cannot undo READY."""

from __future__ import annotations

import uuid

import pytest

from contracts.compilation import CONTRACT, CompilationResult
from store import functions as store
from store.tenants import DEFAULT_TENANT_ID
from tasks import compile as compile_task
from tasks.app import broker
from tasks.apply_result import apply_compilation_result


@pytest.fixture
def connected(database_url):
    broker.connect(database_url)
    yield
    broker.close()


def a_function(db) -> dict:
    with db.transaction():
        return store.insert(
            db,
            DEFAULT_TENANT_ID,
            {"name": "f", "language": "assemblyscript", "source": "x"},
            actor="test",
            change_description=None,
        )


def compile_payload(fn: dict) -> dict:
    """The payload of a compile job for version 1 of `fn`."""
    return {
        "contract": CONTRACT,
        "functionId": str(fn["id"]),
        "tenantId": str(DEFAULT_TENANT_ID),
        "language": "assemblyscript",
        "source": "x",
        "version": 1,
    }


def a_result(function_id, *, wasm_binary: bytes | None = None, error: str | None = None) -> CompilationResult:
    """A result for version 1: a success when it carries a binary, else a failure with `error`."""
    return CompilationResult(
        function_id=function_id,
        tenant_id=DEFAULT_TENANT_ID,
        success=wasm_binary is not None,
        wasm_binary=wasm_binary,
        error=error,
        version=1,
    )


def test_dead_compile_job_publishes_a_failure_that_ends_compiling(connected, db):
    fn = a_function(db)
    store.mark_compiling(db, DEFAULT_TENANT_ID, fn["id"], 1)
    payload = compile_payload(fn)

    compile_task.publish_failure_when_dead(payload, "failed 6 times, last: CompilerUnavailable: no node")

    body = db.execute("SELECT message FROM pgmq.q_compilation_results").fetchone()[0]
    assert body["success"] is False and "CompilerUnavailable" in body["error"]
    apply_compilation_result(body, None)
    status, error = db.execute(
        "SELECT status, compile_error FROM functions WHERE id = %s", (fn["id"],)
    ).fetchone()
    assert status == "FAILED" and "update the function to try again" in error


def test_dead_action_ignores_a_payload_that_names_no_function(connected, db):
    compile_task.publish_failure_when_dead({"nonsense": True}, "rejected")
    assert db.execute("SELECT count(*) FROM pgmq.q_compilation_results").fetchone()[0] == 0


def test_a_failed_duplicate_result_does_not_undo_ready(connected, db):
    fn = a_function(db)
    ok = a_result(fn["id"], wasm_binary=b"\0asm")
    timed_out = a_result(fn["id"], error="compilation timed out")
    apply_compilation_result(ok.to_json(), None)
    apply_compilation_result(timed_out.to_json(), None)

    assert db.execute("SELECT status FROM functions WHERE id = %s", (fn["id"],)).fetchone()[0] == "READY"


def test_a_result_for_an_unknown_function_changes_nothing(connected, db):
    fn = a_function(db)
    ghost = a_result(uuid.uuid4(), error="x")
    apply_compilation_result(ghost.to_json(), None)
    assert db.execute("SELECT id, status FROM functions").fetchall() == [(fn["id"], "PENDING")]


def test_a_dead_letter_failure_never_replaces_a_real_compile_error(connected, db):
    fn = a_function(db)
    real = a_result(fn["id"], error="ERROR TS1005: ';' expected. at 1:10")
    apply_compilation_result(real.to_json(), None)
    payload = compile_payload(fn)

    compile_task.publish_failure_when_dead(payload, "failed 6 times, last: TimeoutError")
    apply_compilation_result(db.execute("SELECT message FROM pgmq.q_compilation_results").fetchone()[0], None)

    status, error = db.execute(
        "SELECT status, compile_error FROM functions WHERE id = %s", (fn["id"],)
    ).fetchone()
    assert (status, error) == ("FAILED", "ERROR TS1005: ';' expected. at 1:10")
    version = db.execute(
        "SELECT status, compile_error FROM function_versions WHERE function_id = %s", (fn["id"],)
    )
    assert version.fetchone() == ("FAILED", "ERROR TS1005: ';' expected. at 1:10")
