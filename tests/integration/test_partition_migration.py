"""Migration 0021 turns executions and events into day-partitioned tables without losing a row."""

from __future__ import annotations

import psycopg
import pytest

from migrations import apply_migrations
from tests.conftest import throwaway_database

PARTITIONING = "0021_partitioned_history.sql"
TENANT = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def filled_before_partitioning(server_url):
    """A database on the schema before 0021 with executions and events of the last 100 days."""
    with throwaway_database(server_url, template=None, prefix="p") as url:
        apply_migrations(url, before=PARTITIONING)
        with psycopg.connect(url, autocommit=True) as conn:
            fid = conn.execute(
                "INSERT INTO functions (tenant_id, name, language, source) "
                "VALUES (%s, 'f', 'javascript', 'x') RETURNING id",
                (TENANT,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO executions (function_id, tenant_id, status, input, output, created_at, "
                "idempotency_key) SELECT %s, %s, 'COMPLETED', jsonb_build_object('i', i), "
                "jsonb_build_object('o', i), now() - make_interval(hours => i), "
                "CASE WHEN i < 5 THEN 'key-' || i END FROM generate_series(0, 2399) i",
                (fid, TENANT),
            )
            # Columns another migration may have added before 0021: a checked one, a link to a
            # previous execution (a foreign key into executions), a renamed one (the name 0028 gives
            # it: 0028 renames only what is still there).
            conn.execute(
                "ALTER TABLE executions ADD COLUMN hops integer NOT NULL DEFAULT 1 CHECK (hops > 0), "
                "ADD COLUMN previous_id uuid REFERENCES executions (id)"
            )
            conn.execute("ALTER TABLE executions RENAME COLUMN function_version TO version")  # codemod: keep
            conn.execute(
                "UPDATE executions e SET hops = 2, "
                "previous_id = (SELECT id FROM executions ORDER BY created_at LIMIT 1) "
                "WHERE e.created_at > now() - interval '1 hour'"
            )
            conn.execute(
                "INSERT INTO events (tenant_id, type, payload, created_at) SELECT %s, 't', "
                "jsonb_build_object('i', i), now() - make_interval(hours => i) "
                "FROM generate_series(0, 499) i",
                (TENANT,),
            )
        yield url, fid


def snapshot(conn, table: str) -> list[tuple]:
    return conn.execute(f"SELECT to_jsonb(t) FROM {table} t ORDER BY id").fetchall()  # noqa: S608


def test_every_row_survives_and_the_tables_are_partitioned_by_day(filled_before_partitioning):
    url, fid = filled_before_partitioning
    with psycopg.connect(url, autocommit=True) as conn:
        before = {table: snapshot(conn, table) for table in ("executions", "events")}
        indexes_before = {
            r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'executions'")
        }

    assert PARTITIONING in apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        # Later migrations (0022: workflow_run_id, step_path) add columns: compare the old ones.
        after = {
            table: [
                ({k: v for k, v in row[0].items() if k in before[table][0][0]},)
                for row in snapshot(conn, table)
            ]
            for table in ("executions", "events")
        }
        assert after == before
        kinds = dict(
            conn.execute("SELECT relname, relkind FROM pg_class WHERE relname IN ('executions', 'events')")
        )
        assert kinds == {"executions": "p", "events": "p"}
        parts = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'executions'::regclass ORDER BY 1"
            )
        ]
        assert "executions_archive" in parts and sum(p.startswith("executions_p") for p in parts) >= 36
        archived = conn.execute("SELECT count(*) FROM executions_archive").fetchone()[0]
        newest_archived = conn.execute("SELECT max(created_at) FROM executions_archive").fetchone()[0]
        assert archived > 0 and newest_archived < conn.execute(
            "SELECT date_trunc('day', now() AT TIME ZONE 'UTC') - interval '35 days'"
        ).fetchone()[0].replace(tzinfo=newest_archived.tzinfo)
        indexes_after = {
            r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'executions'")
        }
        assert indexes_before - {"executions_pkey"} <= indexes_after

        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO executions (function_id, tenant_id, hops) VALUES (%s, %s, 0)", (fid, TENANT)
            )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO executions (function_id, tenant_id, idempotency_key) VALUES (%s, %s, 'key-1')",
                (fid, TENANT),
            )
        conn.execute("DELETE FROM functions WHERE id = %s", (fid,))
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] == 0


def test_running_the_migrations_again_changes_nothing(filled_before_partitioning):
    url, _ = filled_before_partitioning
    apply_migrations(url)
    assert apply_migrations(url) == []
