"""The executor's statements name each execution's day partition (store/day_partition.py) and
fall back to the parent table when that day is gone: a queued execution from a day whose
partition was dropped (its row kept in the archive) still starts and ends, alone or in the
statement that ends one execution and starts the next (store/end_then_start.py)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from store.day_partition import PARENT, day_table
from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import execution_event_types, execution_service, ready_function

__all__ = ["api"]  # fixture used below

ECHO = "function handle(input) { return input; }"


@pytest.fixture
def db_url(api):
    return api.config["TEST_DATABASE_URL"]


@pytest.fixture
def service(db_url):
    with execution_service(db_url) as svc:
        yield svc


def queued(conn, function_id, days_ago: int) -> tuple[uuid.UUID, object]:
    """A PENDING execution created `days_ago` days ago (40: before a fresh database's first day)."""
    return conn.execute(
        "INSERT INTO executions (function_id, tenant_id, status, trigger_type, input, created_at) "
        "SELECT id, tenant_id, 'PENDING', 'API', jsonb_build_object('daysAgo', %s::int), "
        "now() - make_interval(days => %s) FROM functions WHERE id = %s RETURNING id, created_at",
        (days_ago, days_ago, function_id),
    ).fetchone()


def where(conn, execution_id) -> tuple[str, str, object]:
    return conn.execute(
        "SELECT tableoid::regclass::text, status, output FROM executions WHERE id = %s", (execution_id,)
    ).fetchone()


def test_day_table_names_the_utc_day_or_the_parent():
    from datetime import datetime, timedelta, timezone

    late_in_new_york = datetime(2026, 12, 3, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert day_table(late_in_new_york) == "executions_p20261204"
    assert day_table(datetime(2026, 12, 3, 22, 30)) == PARENT  # no zone: unknown day
    assert day_table(None) == PARENT


def test_queued_runs_of_a_dropped_day_and_of_today_start_and_end(api, db_url, service):
    fid = ready_function(api.test_client(), "javascript", ECHO)
    with psycopg.connect(db_url, autocommit=True) as conn:
        old_id, old_created = queued(conn, fid, days_ago=40)
        new_id, new_created = queued(conn, fid, days_ago=0)
        assert where(conn, old_id)[0] == "executions_archive"
        assert where(conn, new_id)[0] == day_table(new_created)

        # On one consumer connection: the second start carries the first one's end (end then
        # start), whose day is gone; then the last end is flushed alone.
        for execution_id, created_at in ((old_id, old_created), (new_id, new_created)):
            outcome = service.run_queued(
                execution_id, uuid.UUID(fid), conn=conn, created_at=created_at, defer_end=True
            )
            assert outcome.ran
        service.flush_queued_end(conn)

        assert where(conn, old_id) == ("executions_archive", "COMPLETED", {"daysAgo": 40})
        assert where(conn, new_id) == (day_table(new_created), "COMPLETED", {"daysAgo": 0})
        assert ("jsruntime.execution.started", 2) in execution_event_types(conn, [old_id, new_id])
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0]
        assert held == 0


def test_a_queued_run_of_today_ends_alone_in_its_day(api, db_url, service):
    fid = ready_function(api.test_client(), "javascript", ECHO)
    with psycopg.connect(db_url, autocommit=True) as conn:
        execution_id, created_at = queued(conn, fid, days_ago=0)
        assert service.run_queued(execution_id, uuid.UUID(fid), conn=conn, created_at=created_at).ran
        assert where(conn, execution_id) == (day_table(created_at), "COMPLETED", {"daysAgo": 0})
