"""Executions left RUNNING by a process that died are failed once they outlive their time limit."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from store import artifacts, attempts
from store.tenants import DEFAULT_TENANT_ID


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
