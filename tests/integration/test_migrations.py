"""Migrations: ordered, recorded, idempotent, safe from two processes at once."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from contracts.queues import QUEUES
from migrations import apply_migrations, migration_files
from tests.conftest import PROJECT_ROOT, throwaway_database


@pytest.fixture
def empty_db(server_url):
    with throwaway_database(server_url, template=None, prefix="e") as url:
        yield url


def schema(url):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT table_schema, table_name, column_name, data_type, is_nullable "
            "FROM information_schema.columns WHERE table_schema IN ('public', 'pgmq') "
            "ORDER BY 1, 2, 3"
        ).fetchall()


def test_twice_on_an_empty_database(empty_db):
    first = apply_migrations(empty_db)
    after_first = schema(empty_db)
    second = apply_migrations(empty_db)
    assert first == [p.name for p in migration_files()]
    assert second == []
    assert schema(empty_db) == after_first
    tables = {(s, t) for s, t, *_ in after_first}
    for table in ("tenants", "api_keys", "functions", "function_versions", "executions"):
        assert ("public", table) in tables
    for queue in QUEUES:
        assert ("pgmq", f"q_{queue}") in tables and ("pgmq", f"a_{queue}") in tables
    with psycopg.connect(empty_db) as conn:
        tenant_cols = conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant_id' "
            "AND table_schema = 'public'"
        ).fetchall()
    assert {"functions", "function_versions", "executions", "api_keys"} <= {r[0] for r in tenant_cols}


def test_four_release_steps_at_once(empty_db):
    cmd = [sys.executable, "-m", "migrations"]
    env = {"DATABASE_URL": empty_db, "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    # Exactly one of them applied the migrations; the others found them applied.
    applied = [out for out, _ in outputs if b"none (up to date)" not in out]
    assert len(applied) == 1, outputs
    with psycopg.connect(empty_db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [p.name for p in migration_files()]


def test_deleting_a_function_cascades(db):
    tenant = "00000000-0000-0000-0000-000000000001"
    fid = db.execute(
        "INSERT INTO functions (tenant_id, name, language, source) "
        "VALUES (%s, 'f', 'javascript', 'x') RETURNING id",
        (tenant,),
    ).fetchone()[0]
    db.execute(
        "INSERT INTO function_versions (function_id, tenant_id, version, language, source) "
        "VALUES (%s, %s, 1, 'javascript', 'x')",
        (fid, tenant),
    )
    db.execute(
        "INSERT INTO executions (function_id, tenant_id, status) VALUES (%s, %s, 'PENDING')", (fid, tenant)
    )
    db.execute("DELETE FROM functions WHERE id = %s", (fid,))
    assert (
        db.execute(
            "SELECT (SELECT count(*) FROM executions) + (SELECT count(*) FROM function_versions)"
        ).fetchone()[0]
        == 0
    )


def test_invariants_are_enforced_by_the_schema(db):
    tenant = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO functions (tenant_id, name, language, source, status) "
            "VALUES (%s, 'f', 'javascript', 'x', 'READY')",
            (tenant,),
        )


def test_versions_and_executions_must_share_their_functions_tenant(db):
    default = "00000000-0000-0000-0000-000000000001"
    other = db.execute("INSERT INTO tenants (slug) VALUES ('other') RETURNING id").fetchone()[0]
    fid = db.execute(
        "INSERT INTO functions (tenant_id, name, language, source) "
        "VALUES (%s, 'f', 'javascript', 'x') RETURNING id",
        (default,),
    ).fetchone()[0]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute(
            "INSERT INTO executions (function_id, tenant_id, status) VALUES (%s, %s, 'PENDING')", (fid, other)
        )
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute(
            "INSERT INTO function_versions (function_id, tenant_id, version, language, source) "
            "VALUES (%s, %s, 1, 'javascript', 'x')",
            (fid, other),
        )


@pytest.mark.parametrize(
    "process", [["-m", "scheduler"], ["-m", "broker", "worker", "tasks:broker", "events"]]
)
def test_a_process_refuses_to_start_on_a_schema_missing_a_migration(database_url, db, process):
    last = migration_files()[-1].name
    db.execute("DELETE FROM schema_migrations WHERE name = %s", (last,))
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, *process], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert f"migration {last} is missing" in done.stderr, done.stderr[-2000:]


def test_the_web_app_refuses_a_schema_missing_a_migration(database_url, db, monkeypatch):
    from migrations import SchemaNotCurrent
    from web.app import create_app

    first = migration_files()[0].name
    db.execute("DELETE FROM schema_migrations WHERE name = %s", (first,))
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(SchemaNotCurrent, match=f"migration {first} is missing"):
        create_app()
