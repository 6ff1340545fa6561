"""Migration 0028 gives a version one name, `version`, in every table, without losing a value."""

from __future__ import annotations

import psycopg
import pytest

from migrations import apply_migrations
from store import functions as store
from tests.conftest import throwaway_database

RENAMING = "0028_one_word_for_version.sql"
TENANT = "00000000-0000-0000-0000-000000000001"
# The names 0028 retires, as the schema before it has them.
OLD_NAMES = ("revision", "pending_revision", "function_version", "number")  # codemod: keep
REVISION, PENDING_REVISION, FUNCTION_VERSION, NUMBER = OLD_NAMES


@pytest.fixture
def filled_before_renaming(server_url):
    """A database on the schema before 0028: a function at its 2nd version with a 3rd staged,
    executions of version 1 60 days ago (the archive partition) and of version 2 today and in two
    days (a day partition left detached, as an interrupted housekeeping pass may leave one), and
    a workflow with its versions."""
    with throwaway_database(server_url, template=None, prefix="v") as url:
        apply_migrations(url, before=RENAMING)
        with psycopg.connect(url, autocommit=True) as conn:
            fid = conn.execute(
                f"INSERT INTO functions (tenant_id, name, language, source, {REVISION}) "
                "VALUES (%s, 'f', 'javascript', 'x', 2) RETURNING id",
                (TENANT,),
            ).fetchone()[0]
            conn.execute(
                f"INSERT INTO function_versions (function_id, tenant_id, {NUMBER}, language, source) "
                "SELECT %s, %s, n, 'javascript', 'x' || n FROM generate_series(1, 3) n",
                (fid, TENANT),
            )
            conn.execute(f"UPDATE functions SET {PENDING_REVISION} = 3 WHERE id = %s", (fid,))
            conn.execute(
                f"INSERT INTO executions (function_id, tenant_id, status, {FUNCTION_VERSION}, created_at) "
                "SELECT %s, %s, 'COMPLETED', CASE WHEN d < 0 THEN 1 ELSE 2 END, "
                "now() + make_interval(days => d) FROM unnest(ARRAY[-60, 0, 2]) d",
                (fid, TENANT),
            )
            detached = conn.execute(
                "SELECT tableoid::regclass::text FROM executions WHERE created_at > now() + interval '1 day'"
            ).fetchone()[0]
            conn.execute(f"ALTER TABLE executions DETACH PARTITION {detached}")
            wid = conn.execute(
                "INSERT INTO workflows (tenant_id, name, version, steps) "
                "VALUES (%s, 'w', 2, '[]') RETURNING id",
                (TENANT,),
            ).fetchone()[0]
            conn.execute(
                f"INSERT INTO workflow_versions (workflow_id, {NUMBER}, steps) "
                "SELECT %s, n, '[]' FROM generate_series(1, 2) n",
                (wid,),
            )
        yield url, fid, detached


def columns(conn, table: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped",
            (table,),
        )
    }


def test_every_version_column_is_called_version_and_keeps_its_values(filled_before_renaming):
    url, fid, detached = filled_before_renaming
    assert RENAMING in apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind IN ('r', 'p') AND (relname LIKE 'executions%%' OR relname IN "
                "('functions', 'function_versions', 'workflow_versions'))"
            )
        ]
        # The parent, its archive, its day partitions and the detached day.
        assert {"executions", "executions_archive", detached, "functions"} <= set(tables)
        for table in tables:
            assert not columns(conn, table) & set(OLD_NAMES), table
            assert "version" in columns(conn, table), table
        assert "pending_version" in columns(conn, "functions")

        assert conn.execute("SELECT version, pending_version FROM functions").fetchone() == (2, 3)
        assert [r[0] for r in conn.execute("SELECT version FROM function_versions ORDER BY 1")] == [1, 2, 3]
        assert [r[0] for r in conn.execute("SELECT version FROM workflow_versions ORDER BY 1")] == [1, 2]
        ran = conn.execute(
            "SELECT tableoid::regclass::text, version FROM executions ORDER BY created_at"
        ).fetchall()
        assert ran == [("executions_archive", 1), (ran[1][0], 2)]
        assert conn.execute(f"SELECT version FROM {detached}").fetchone() == (2,)  # noqa: S608

        # The check of the renamed column still holds; the code reads the new names.
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE functions SET version = 0 WHERE id = %s", (fid,))
        row = store.get(conn, TENANT, fid)
        assert (row["version"], row["pending_version"], row["pending_json"]["version"]) == (2, 3, 3)


def test_the_renaming_migration_applied_twice_changes_nothing(filled_before_renaming):
    url, _, _ = filled_before_renaming
    apply_migrations(url)
    assert apply_migrations(url) == []
