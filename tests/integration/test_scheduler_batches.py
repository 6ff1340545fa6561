"""A tick of many functions is claimed and queued in batches: once each, with the function's retry
policy and a queue message each, the tenant's PENDING quota applied, two schedulers sharing it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from executions.enqueue import enqueue_many
from infra.database import ForkSafePool
from scheduler.scheduler import Scheduler
from store.pending_batches import PendingRequest
from store.tenants import DEFAULT_TENANT_ID
from tests.integration.test_scheduler import ManualClock, next_boundary


def many_scheduled(db, n: int, *, tenant=DEFAULT_TENANT_ID, cursor: datetime) -> list[uuid.UUID]:
    rows = db.execute(
        "INSERT INTO functions (tenant_id, name, language, source, status, wasm_binary, trigger_type, "
        "cron_expression) SELECT %s, 'many-' || gen_random_uuid(), 'javascript', 'x', 'READY', 'x'::bytea, "
        "'SCHEDULED', '* * * * *' FROM generate_series(1, %s) RETURNING id",
        (tenant, n),
    ).fetchall()
    ids = [row[0] for row in rows]
    db.execute("UPDATE functions SET schedule_cursor = %s WHERE id = ANY(%s)", (cursor, ids))
    return ids


@pytest.fixture
def make_scheduler(database_url):
    made = []

    def make(clock, **kwargs) -> Scheduler:
        scheduler = Scheduler(ForkSafePool(database_url, max_size=2), clock=clock, **kwargs)
        made.append(scheduler)
        scheduler.resync()
        return scheduler

    yield make
    for scheduler in made:
        scheduler.db.close()


def test_one_tick_of_many_functions_fires_each_once_with_its_retry_policy_and_message(db, make_scheduler):
    boundary = next_boundary(datetime.now(UTC) + timedelta(minutes=5))
    ids = many_scheduled(db, 23, cursor=boundary - timedelta(seconds=5))
    db.execute("UPDATE functions SET retry_policy = %s WHERE id = %s", (Jsonb({"maxAttempts": 3}), ids[0]))
    clock = ManualClock(boundary - timedelta(seconds=5))
    scheduler = make_scheduler(clock, batch=5)  # five batches

    clock.now = boundary + timedelta(milliseconds=10)
    assert scheduler.fire_due() == 23
    assert scheduler.fire_due() == 0  # nothing due twice

    rows = db.execute(
        "SELECT function_id, status, trigger_data->>'scheduledFor', max_attempts, "
        "retry_policy->>'maxAttempts' FROM executions WHERE trigger_type = 'CRON'"
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {r[1] for r in rows} == {"PENDING"} and {r[2] for r in rows} == {boundary.isoformat()}
    attempts = {r[0]: (r[3], r[4]) for r in rows}
    assert attempts[ids[0]] == (3, "3") and attempts[ids[1]] == (1, "1")
    messages = db.execute(
        "SELECT message->>'executionId', headers->>'task', message->>'tenantId' FROM pgmq.q_executions"
    ).fetchall()
    executions = {str(r[0]) for r in db.execute("SELECT id FROM executions").fetchall()}
    assert {m[0] for m in messages} == executions and len(messages) == 23
    assert {m[1] for m in messages} == {"run_execution"}
    # The executor reads the queue in turns of the tenant (tasks/run_execution.py).
    tenants = {str(r[0]) for r in db.execute("SELECT tenant_id FROM functions").fetchall()}
    assert {m[2] for m in messages} == tenants
    cursors = db.execute(
        "SELECT DISTINCT schedule_cursor, last_run_at FROM functions WHERE id = ANY(%s)", (ids,)
    )
    assert cursors.fetchall() == [(boundary, boundary)]


def test_the_pending_quota_refuses_the_ticks_past_it_and_spares_other_tenants(db, make_scheduler):
    boundary = next_boundary(datetime.now(UTC) + timedelta(minutes=5))
    small = db.execute(
        "INSERT INTO tenants (slug, max_pending_executions) VALUES ('small-quota', 3) RETURNING id"
    ).fetchone()[0]
    limited = many_scheduled(db, 5, tenant=small, cursor=boundary - timedelta(seconds=5))
    free = many_scheduled(db, 4, cursor=boundary - timedelta(seconds=5))
    clock = ManualClock(boundary - timedelta(seconds=5))
    scheduler = make_scheduler(clock, batch=100)

    clock.now = boundary + timedelta(milliseconds=10)
    assert scheduler.fire_due() == 3 + 4
    per_tenant = dict(
        db.execute(
            "SELECT tenant_id, count(*) FROM executions WHERE trigger_type = 'CRON' GROUP BY 1"
        ).fetchall()
    )
    assert per_tenant == {small: 3, DEFAULT_TENANT_ID: 4}
    # Refused ticks are handled, not fired later: every cursor moved past the tick.
    moved = db.execute(
        "SELECT count(*) FROM functions WHERE id = ANY(%s) AND schedule_cursor = %s",
        (limited + free, boundary),
    )
    assert moved.fetchone()[0] == 9
    assert scheduler.fire_due() == 0


def test_two_schedulers_share_a_big_tick_and_fire_each_function_once(db, make_scheduler):
    boundary = next_boundary(datetime.now(UTC) + timedelta(minutes=5))
    ids = many_scheduled(db, 30, cursor=boundary - timedelta(seconds=5))
    clocks = [ManualClock(boundary - timedelta(seconds=5)) for _ in range(2)]
    first, second = (make_scheduler(clock, batch=4) for clock in clocks)
    for clock in clocks:
        clock.now = boundary + timedelta(milliseconds=10)
    with first.db.connection() as conn, conn.transaction():
        # The first scheduler holds some rows (mid-batch) while the second goes through the tick.
        conn.execute("SELECT 1 FROM functions WHERE id = ANY(%s) FOR UPDATE", (ids[:7],))
        fired_second = second.fire_due()
    assert fired_second == 23
    fired_first = first.fire_due()
    assert fired_first == 7
    for clock in clocks:  # the second looks at the rows it found locked again: nothing left to fire
        clock.now = boundary + timedelta(seconds=1)
    assert second.fire_due() == 0
    counts = db.execute("SELECT function_id, count(*) FROM executions GROUP BY 1").fetchall()
    assert sorted(r[0] for r in counts) == sorted(ids) and {r[1] for r in counts} == {1}


def test_enqueue_many_skips_keys_already_taken_and_survives_a_duplicate_in_the_batch(db):
    fid = many_scheduled(db, 1, cursor=datetime.now(UTC))[0]

    def request(key: str) -> PendingRequest:
        return PendingRequest(DEFAULT_TENANT_ID, fid, "CRON", {"k": key}, key, {})

    first = enqueue_many(db, [request("a")])
    assert first[0].created
    # "a" is taken; "b" twice in one batch makes the batched insert fail: queued one by one instead.
    results = enqueue_many(db, [request("a"), request("b"), request("b"), request("c")])
    assert [r.created for r in results] == [False, True, False, True]
    assert all(r.refused is None for r in results)
    keys = db.execute("SELECT idempotency_key, count(*) FROM executions GROUP BY 1 ORDER BY 1").fetchall()
    assert keys == [("a", 1), ("b", 1), ("c", 1)]
    assert db.execute("SELECT count(*) FROM pgmq.q_executions").fetchone()[0] == 3


def test_a_resync_keeps_unchanged_schedules_as_they_are(db, make_scheduler):
    many_scheduled(db, 10, cursor=datetime.now(UTC))
    scheduler = make_scheduler(ManualClock(datetime.now(UTC)))
    entries, heap = dict(scheduler.entries), len(scheduler._heap)
    scheduler.resync()
    scheduler.resync()
    assert len(scheduler._heap) == heap == 10
    assert all(scheduler.entries[fid] is entry for fid, entry in entries.items())


def test_idle_the_scheduler_sleeps_until_the_next_tick_within_its_bounds(db, make_scheduler):
    now = next_boundary(datetime.now(UTC) + timedelta(minutes=5)) - timedelta(seconds=3)
    many_scheduled(db, 1, cursor=now - timedelta(seconds=1))
    scheduler = make_scheduler(ManualClock(now), sleep_cap_s=5.0)
    assert scheduler._sleep_s(60.0) == pytest.approx(3.0)  # the next tick, not a fixed period
    assert scheduler._sleep_s(1.5) == pytest.approx(1.5)  # the heartbeat or resync comes first
    empty = make_scheduler(ManualClock(now), sleep_cap_s=5.0)
    empty.entries.clear()
    assert empty._sleep_s(60.0) == 5.0  # nothing held: the cap bounds the sleep
