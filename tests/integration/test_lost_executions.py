"""Executions left RUNNING by a process that died are failed once they outlive their time limit."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.types.json import Jsonb

from store import artifacts, attempts, executions
from store.tenants import DEFAULT_TENANT_ID
from tests.integration.conftest import wait_for


def a_function(db, limits: dict) -> str:
    return db.execute(
        "INSERT INTO functions (tenant_id, name, language, source, resource_limits) "
        "VALUES (%s, 'f-' || gen_random_uuid(), 'javascript', 'x', %s) RETURNING id",
        (DEFAULT_TENANT_ID, Jsonb(limits)),
    ).fetchone()[0]


def running_since(db, function_id, seconds_ago: int) -> str:
    return db.execute(
        "INSERT INTO executions (function_id, tenant_id, status, started_at) "
        "VALUES (%s, %s, 'RUNNING', now() - make_interval(secs => %s)) RETURNING id",
        (function_id, DEFAULT_TENANT_ID, seconds_ago),
    ).fetchone()[0]


def test_only_executions_past_their_limit_and_grace_are_failed(db):
    default_limits = a_function(db, {})  # 30 s limit
    long_limit = a_function(db, {"maxExecutionTimeMs": 600_000})
    lost = running_since(db, default_limits, 30 + attempts.LOST_AFTER_GRACE_S + 5)
    recent = running_since(db, default_limits, 5)
    long_running = running_since(db, long_limit, 300)

    swept = attempts.fail_lost(db)

    assert [(row["id"], row["function_id"]) for row in swept] == [(lost, default_limits)]
    rows = dict(db.execute("SELECT id, status FROM executions").fetchall())
    assert rows == {lost: "FAILED", recent: "RUNNING", long_running: "RUNNING"}
    message = db.execute("SELECT error_message FROM executions WHERE id = %s", (lost,)).fetchone()[0]
    assert "lost this execution" in message
    assert attempts.fail_lost(db) == []  # idempotent: safe from every web process at once


def test_artifacts_unused_past_their_retention_are_deleted_and_used_ones_kept(db):
    def artifact(source_hash: bytes, idle_s: int) -> None:
        db.execute(
            "INSERT INTO artifacts (tenant_id, language, source_sha256, compiler_version, artifact, "
            "last_used_at) VALUES (%s, 'javascript', %s, 'v', 'x', now() - make_interval(secs => %s))",
            (DEFAULT_TENANT_ID, source_hash, idle_s),
        )

    artifact(b"old", 3600)
    artifact(b"recent", 10)

    assert artifacts.forget_unused(db, older_than_s=600) == 1
    assert db.execute("SELECT source_sha256 FROM artifacts").fetchall() == [(b"recent",)]


def ids_whose_hashtext_collides(db) -> tuple[uuid.UUID, uuid.UUID]:
    """Two function ids with the same 32-bit hashtext (about 19 such pairs among 400,000 ids)."""
    ids = db.execute(
        "SELECT array_agg(id) FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, 400000)) u "
        "GROUP BY hashtext(id::text) HAVING count(*) > 1 LIMIT 1"
    ).fetchone()[0]
    return ids[0], ids[1]


def a_ready_function(db, function_id: uuid.UUID) -> None:
    db.execute(
        "INSERT INTO functions (id, tenant_id, name, language, source, status, wasm_binary, resource_limits) "
        "VALUES (%s, %s, 'f-' || gen_random_uuid(), 'javascript', 'x', 'READY', 'x', %s)",
        (function_id, DEFAULT_TENANT_ID, Jsonb({"maxConcurrentRuns": 1})),
    )


def start(conn, function_id) -> uuid.UUID | None:
    row = executions.start_if_runnable(
        conn, DEFAULT_TENANT_ID, function_id, None, input_value={}, trigger_type="API"
    )
    return row["execution_id"]


def test_functions_whose_ids_hash_alike_have_slots_of_their_own(db, database_url):
    # given two functions of one slot each whose ids have the same 32-bit hashtext
    first, second = ids_whose_hashtext_collides(db)
    a_ready_function(db, first)
    a_ready_function(db, second)

    with (
        psycopg.connect(database_url, autocommit=True) as one,
        psycopg.connect(database_url, autocommit=True) as two,
    ):
        # when the first one runs (its process holds its only slot)
        running = start(one, first)
        assert running is not None
        assert start(db, first) is None  # its one slot is busy

        # expect the second one to take its own slot all the same
        other = start(two, second)
        assert other is not None

        # and when the second one's process dies, the sweep fails its execution only
        pid = two.info.backend_pid
        two.close()
        gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)"
        wait_for(lambda: db.execute(gone, (pid,)).fetchone()[0])  # its session (and lock) ended
        assert [(row["id"], row["function_id"]) for row in attempts.fail_lost(db)] == [(other, second)]
        status = db.execute("SELECT status FROM executions WHERE id = %s", (running,)).fetchone()[0]
        assert status == "RUNNING"
