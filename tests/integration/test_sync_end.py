"""A sync run's end names its day's partition (store/sync_end.py) and still finds a row elsewhere."""

from __future__ import annotations

from store import sync_end
from store.tenants import DEFAULT_TENANT_ID


def a_function(db):
    return db.execute(
        "INSERT INTO functions (tenant_id, name, language, source) "
        "VALUES (%s, 'f-' || gen_random_uuid(), 'javascript', 'x') RETURNING id",
        (DEFAULT_TENANT_ID,),
    ).fetchone()[0]


def a_running_execution(db, days_ago: int = 0):
    return db.execute(
        "INSERT INTO executions (function_id, tenant_id, status, started_at, created_at) "
        "VALUES (%s, %s, 'RUNNING', now(), now() - make_interval(days => %s)) RETURNING id, created_at",
        (a_function(db), DEFAULT_TENANT_ID, days_ago),
    ).fetchone()


def end(db, execution_id, created_at):
    return sync_end.finish_sync(
        db,
        execution_id,
        status="COMPLETED",
        output_json='{"ok": 1}',
        error_message=None,
        logs=None,
        metrics={"durationMs": 1.0},
        created_at=created_at,
    )


def where(db, execution_id) -> tuple[str, str]:
    return db.execute(
        "SELECT tableoid::regclass::text, status FROM executions WHERE id = %s", (execution_id,)
    ).fetchone()


def test_a_run_of_today_ends_in_its_day_partition(db):
    execution_id, created_at = a_running_execution(db)

    row = end(db, execution_id, created_at)

    assert row["status"] == "COMPLETED" and row["output"] == {"ok": 1}
    assert where(db, execution_id) == (f"executions_p{created_at.strftime('%Y%m%d')}", "COMPLETED")


def test_a_run_whose_day_has_no_partition_is_ended_through_the_parent_table(db):
    # A fresh database's days start today: a row 40 days old lives in the archive partition.
    execution_id, created_at = a_running_execution(db, days_ago=40)
    assert where(db, execution_id) == ("executions_archive", "RUNNING")

    row = end(db, execution_id, created_at)

    assert row is not None and row["status"] == "COMPLETED"
    assert where(db, execution_id) == ("executions_archive", "COMPLETED")


def test_a_run_that_already_ended_is_not_ended_again(db):
    execution_id, created_at = a_running_execution(db)
    assert end(db, execution_id, created_at) is not None

    assert end(db, execution_id, created_at) is None
    assert end(db, execution_id, None) is None
