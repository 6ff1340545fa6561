"""Retention: the executor's prune pass keeps history to its windows (rules of executions/housekeeping.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from psycopg.types.json import Jsonb

from executions.housekeeping import prune
from infra.database import ForkSafePool
from infra.storage_bounds import Retention
from store import partitions
from store.tenants import DEFAULT_TENANT_ID

POLICY = Retention(execution_days=30, event_days=7, versions_kept=100)


@pytest.fixture
def pool(database_url):
    db = ForkSafePool(database_url, max_size=2, name="test-prune")
    yield db
    db.close()


@pytest.fixture
def days_back(db):
    """Day partitions for the last 40 days (a fresh database starts its days today)."""
    first_day = partitions.today_utc(db) - timedelta(days=40)
    for table in partitions.PARTITIONED:
        partitions.start_days_at(db, table, first_day)


def a_function(db, tenant=DEFAULT_TENANT_ID, name=None):
    return db.execute(
        "INSERT INTO functions (tenant_id, name, language, source) "
        "VALUES (%s, coalesce(%s, 'f-' || gen_random_uuid()), 'javascript', 'x') RETURNING id",
        (tenant, name),
    ).fetchone()[0]


def executions_aged(db, function_id, *days_ago, status="COMPLETED", tenant=DEFAULT_TENANT_ID, version=None):
    return [
        db.execute(
            "INSERT INTO executions (function_id, tenant_id, status, version, created_at) "
            "VALUES (%s, %s, %s, %s, now() - make_interval(days => %s)) RETURNING id",
            (function_id, tenant, status, version, days),
        ).fetchone()[0]
        for days in days_ago
    ]


def surviving(db) -> set:
    return {r[0] for r in db.execute("SELECT id FROM executions")}


def partitions_of(db, table) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY 1",
            (table,),
        )
    ]


def test_executions_past_the_window_go_whole_days_at_a_time(db, pool, days_back):
    fid = a_function(db)
    old = executions_aged(db, fid, 38, 35, 33)
    recent = executions_aged(db, fid, 29, 1, 0)
    days_before = len(partitions_of(db, "executions"))

    removed = prune(pool, POLICY)

    assert surviving(db) == set(recent)
    assert removed["executions"] == len(old) and removed["partitionsDropped"] >= 9
    assert len(partitions_of(db, "executions")) < days_before
    assert db.execute("SELECT count(*) FROM executions_archive").fetchone()[0] == 0


def test_the_newest_execution_of_each_function_is_kept_whatever_its_age(db, pool, days_back):
    quiet, busy = a_function(db), a_function(db)
    quiet_runs = executions_aged(db, quiet, 39, 36)
    busy_runs = executions_aged(db, busy, 39, 2)
    forgotten_pending = executions_aged(db, busy, 37, status="PENDING")

    prune(pool, POLICY)

    assert surviving(db) == {quiet_runs[1], busy_runs[1], *forgotten_pending}
    assert db.execute("SELECT id FROM executions_archive").fetchall() != []
    # a later pass, after the quiet function ran again, lets the archived keeper go
    newer = executions_aged(db, quiet, 0)
    prune(pool, POLICY)
    assert surviving(db) == {newer[0], busy_runs[1], *forgotten_pending}


def test_a_tenant_with_a_shorter_window_loses_its_rows_sooner_and_one_with_a_longer_keeps_them(
    db, pool, days_back
):
    short = db.execute(
        "INSERT INTO tenants (slug, execution_retention_days, event_retention_days) VALUES ('short', 2, 1) "
        "RETURNING id"
    ).fetchone()[0]
    long = db.execute(
        "INSERT INTO tenants (slug, execution_retention_days) VALUES ('long', 60) RETURNING id"
    ).fetchone()[0]
    short_fn, long_fn, default_fn = a_function(db, short), a_function(db, long), a_function(db)
    short_runs = executions_aged(db, short_fn, 3, 1, tenant=short)
    long_runs = executions_aged(db, long_fn, 38, 1, tenant=long)
    default_runs = executions_aged(db, default_fn, 38, 1)
    for tenant, days in ((short, 3), (short, 0), (DEFAULT_TENANT_ID, 9), (DEFAULT_TENANT_ID, 0)):
        db.execute(
            "INSERT INTO events (tenant_id, type, created_at) "
            "VALUES (%s, 't', now() - make_interval(days => %s))",
            (tenant, days),
        )

    prune(pool, POLICY)

    assert surviving(db) == {short_runs[1], *long_runs, default_runs[1]}
    events_left = db.execute("SELECT tenant_id, created_at > now() - interval '1 day' FROM events").fetchall()
    assert sorted(events_left) == sorted([(short, True), (DEFAULT_TENANT_ID, True)])


def test_versions_past_the_newest_n_go_unless_an_execution_in_the_window_ran_them(db, pool):
    fid = a_function(db)
    db.execute(
        "INSERT INTO function_versions (function_id, tenant_id, version, language, source) "
        "SELECT %s, %s, n, 'javascript', 'v' || n FROM generate_series(1, 105) n",
        (fid, DEFAULT_TENANT_ID),
    )
    executions_aged(db, fid, 3, version=2)
    executions_aged(db, fid, 31, version=4)  # outside the window: no reason to keep version 4
    executions_aged(db, fid, 0, version=105)

    removed = prune(pool, POLICY)

    numbers = [r[0] for r in db.execute("SELECT version FROM function_versions ORDER BY version")]
    assert numbers == [2, *range(6, 106)]
    assert removed["versions"] == 4


def test_a_prune_is_recorded_and_creates_the_days_ahead(db, pool):
    db.execute("UPDATE prune_runs SET removed = %s", (Jsonb({}),))

    removed = prune(pool, POLICY)

    last = db.execute(
        "SELECT removed, cpu_ms, finished_at FROM prune_runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert last[0] == removed and last[1] >= 0 and last[2] is not None
    ahead = db.execute(
        "SELECT to_regclass('executions_p' || to_char((now() AT TIME ZONE 'UTC')::date + 7, 'YYYYMMDD')) "
        "IS NOT NULL"
    ).fetchone()[0]
    assert ahead
    assert prune(pool, POLICY)["partitionsDropped"] == 0  # nothing left to do: a second pass drops nothing


def a_run(db, days_ago: int, status: str):
    return db.execute(
        "INSERT INTO workflow_runs (tenant_id, status, steps, input, created_at) "
        "VALUES (%s, %s, '{}', '{}', now() - make_interval(days => %s)) RETURNING id",
        (DEFAULT_TENANT_ID, status, days_ago),
    ).fetchone()[0]


def steps_of(db, run_id, fid, *days_ago, status="COMPLETED"):
    ids = executions_aged(db, fid, *days_ago, status=status)
    db.execute(
        "UPDATE executions SET workflow_run_id = %s, trigger_type = 'WORKFLOW', step_path = '/' || id "
        "WHERE id = ANY(%s)",
        (run_id, ids),
    )
    return ids


def test_workflow_runs_go_with_the_execution_window_and_an_active_run_keeps_its_steps(db, pool, days_back):
    fid = a_function(db)
    ended = a_run(db, 35, "COMPLETED")
    ended_steps = steps_of(db, ended, fid, 35, 34)
    active = a_run(db, 35, "PENDING")
    active_steps = steps_of(db, active, fid, 35, 34)
    waiting = steps_of(db, active, fid, 33, status="PENDING")
    young = a_run(db, 2, "FAILED")
    newest = executions_aged(db, fid, 0)

    removed = prune(pool, POLICY)

    runs = {r[0] for r in db.execute("SELECT id FROM workflow_runs")}
    assert runs == {active, young} and removed["workflowRuns"] == 1
    left = surviving(db)
    assert not left & set(ended_steps)
    assert {*active_steps, *waiting, *newest} <= left
