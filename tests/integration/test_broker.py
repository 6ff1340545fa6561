"""The broker against real PostgreSQL + pgmq: delivery, retry, dead letters, visibility."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg import sql

from broker import Broker, TaskDeclarationError, Worker
from broker.pgmq import create_queue
from broker.read_ahead import give_back
from broker.wakeup import insert_channel
from tests.conftest import PROJECT_ROOT
from tests.integration import broker_app


@pytest.fixture
def app(database_url, db):
    db.execute(broker_app.RUNS_TABLE)
    for queue in broker_app.QUEUES:
        create_queue(db, queue)
    broker_app.broker.connect(database_url)
    yield broker_app.broker
    broker_app.broker.close()


@pytest.fixture
def worker_factory(app):
    workers = []

    def start(*queues, concurrency=1):
        worker = Worker(app, list(queues), concurrency=concurrency, idle_poll_s=0.2)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
        worker.join(10)


def wait_for(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def runs(db, tag=None):
    if tag is None:
        return db.execute("SELECT msg_id, read_ct, tag FROM task_runs ORDER BY id").fetchall()
    return db.execute(
        "SELECT msg_id, read_ct, tag FROM task_runs WHERE tag = %s ORDER BY id", (tag,)
    ).fetchall()


def queue_count(db, queue, table="q"):
    return db.execute(f"SELECT count(*) FROM pgmq.{table}_{queue}").fetchone()[0]


def test_sent_message_runs_once_and_is_deleted(app, db, worker_factory):
    msg_id = broker_app.record.send(tag="hello")
    worker_factory("test_ok")
    wait_for(lambda: runs(db, "hello"))
    wait_for(lambda: queue_count(db, "test_ok") == 0)
    assert runs(db) == [(msg_id, 1, "hello")]
    assert queue_count(db, "test_ok", "a") == 0


def test_idle_worker_picks_up_new_message_quickly(app, db, worker_factory):
    worker_factory("test_ok")
    time.sleep(0.5)  # the worker is idle, waiting on LISTEN
    started = time.monotonic()
    broker_app.record.send(tag="fast")
    wait_for(lambda: runs(db, "fast"), interval=0.005)
    # Generous bound: the fallback poll is 0.2 s here, the notification path is far faster.
    assert time.monotonic() - started < 0.19


def test_failing_task_is_retried_then_dead_lettered_and_logged(app, db, worker_factory, caplog):
    caplog.set_level(logging.INFO)
    msg_id = broker_app.always_fails.send()
    worker_factory("test_fail")
    wait_for(lambda: queue_count(db, "test_fail", "a") == 1)
    attempts = runs(db, "attempt")
    assert [r[1] for r in attempts] == [1, 2, 3]  # read_ct grows; max_retries=2 → 3 attempts
    assert queue_count(db, "test_fail") == 0
    dead = [r for r in caplog.records if r.getMessage() == "message.dead"]
    assert dead and dead[0].msgId == msg_id and "boom" in dead[0].reason


def test_rejected_message_is_archived_at_once(app, db, worker_factory):
    broker_app.rejects.send()
    worker_factory("test_fail")
    wait_for(lambda: queue_count(db, "test_fail", "a") == 1)
    assert [r[1] for r in runs(db, "rejected")] == [1]


@pytest.mark.parametrize(
    "body, headers",
    [
        ('"just a string"', '{"task": "record"}'),
        ("[1, 2, 3]", '{"task": "record"}'),
        ('{"tag": "x"}', '{"task": "no_such_task"}'),
        ('{"tag": "x"}', '{"task": "always_fails"}'),  # a task of another queue
    ],
)
def test_bad_messages_are_dead_and_worker_keeps_running(app, db, worker_factory, caplog, body, headers):
    caplog.set_level(logging.INFO)
    db.execute("SELECT pgmq.send('test_ok', %s::jsonb, %s::jsonb)", (body, headers))
    worker_factory("test_ok")
    wait_for(lambda: queue_count(db, "test_ok", "a") == 1)
    assert any(r.getMessage() == "message.dead" for r in caplog.records)
    broker_app.record.send(tag="after")
    wait_for(lambda: runs(db, "after"))


def test_invalid_json_cannot_enter_a_queue(app, db):
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        db.execute("SELECT pgmq.send('test_ok', %s::jsonb)", ("{not json",))


def test_two_workers_never_run_the_same_message_concurrently(app, db, worker_factory):
    for i in range(20):
        broker_app.slow.send(tag=f"m{i}", seconds=0.05)
    worker_factory("test_slow", concurrency=3)
    worker_factory("test_slow", concurrency=3)
    wait_for(
        lambda: db.execute("SELECT count(*) FROM task_runs WHERE finished_at IS NOT NULL").fetchone()[0] == 20
    )
    per_message = db.execute("SELECT msg_id, count(*) FROM task_runs GROUP BY msg_id").fetchall()
    assert len(per_message) == 20 and all(count == 1 for _, count in per_message)


def test_long_task_extends_visibility_and_is_not_redelivered(app, db, worker_factory):
    # visibility_timeout is 2 s; the task runs 3.5 s; the heartbeat keeps it hidden.
    broker_app.slow.send(tag="long", seconds=3.5)
    worker_factory("test_slow", concurrency=2)
    worker_factory("test_slow", concurrency=2)
    wait_for(
        lambda: db.execute("SELECT count(*) FROM task_runs WHERE finished_at IS NOT NULL").fetchone()[0],
        timeout=15,
    )
    time.sleep(0.3)
    assert [r[1] for r in runs(db, "long")] == [1]


def test_declaration_is_strict():
    broker = Broker()
    with pytest.raises(TaskDeclarationError, match="unknown task option"):
        broker.task(queue="q", retries=3)
    with pytest.raises(TaskDeclarationError, match="queue"):
        broker.task(max_retries=3)

    @broker.task(queue="q", name="dup")
    def first(payload, delivery):
        return None

    with pytest.raises(TaskDeclarationError, match="already declared"):

        @broker.task(queue="q", name="dup")
        def second(payload, delivery):
            return None


def test_send_in_caller_transaction_commits_or_rolls_back_with_it(app, db, database_url):
    with psycopg.connect(database_url) as conn, conn.transaction():
        broker_app.record.send_with(conn, tag="committed")
    assert queue_count(db, "test_ok") == 1
    with psycopg.connect(database_url) as conn:
        with pytest.raises(ZeroDivisionError), conn.transaction():
            broker_app.record.send_with(conn, tag="lost")
            raise ZeroDivisionError
    assert queue_count(db, "test_ok") == 1


def test_worker_killed_mid_task_loses_nothing(app, db, database_url):
    """kill -9 a worker process holding a message: it reappears after its visibility timeout."""
    broker_app.slow.send(tag="survivor", seconds=30)
    env = {**os.environ, "DATABASE_URL": database_url}
    cmd = [sys.executable, "-m", "broker", "worker", "tests.integration.broker_app:broker", "test_slow"]
    first = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: runs(db, "survivor"), timeout=20)
        first.kill()
        first.wait(5)
        db.execute("UPDATE pgmq.q_test_slow SET message = message || '{\"seconds\": 0.1}'")
        second = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: queue_count(db, "test_slow") == 0, timeout=20)
            rows = db.execute(
                "SELECT read_ct, pid, finished_at IS NOT NULL FROM task_runs ORDER BY id"
            ).fetchall()
            assert [r[0] for r in rows] == [1, 2]
            assert rows[0][1] == first.pid and rows[0][2] is False
            assert rows[1][1] == second.pid and rows[1][2] is True
        finally:
            second.terminate()
            assert second.wait(10) == 0  # SIGTERM: graceful exit
    finally:
        if first.poll() is None:
            first.kill()


def test_on_dead_action_runs_before_the_message_is_archived(app, db, worker_factory):
    broker_app.dies_with_action.send()
    worker_factory("test_dead")
    wait_for(lambda: queue_count(db, "test_dead", "a") == 1)
    tags = [r[2] for r in runs(db)]
    assert len(tags) == 1 and tags[0].startswith("dead: failed 2 times") and "nope" in tags[0]


def test_a_failing_on_dead_action_keeps_the_message(app, db, worker_factory):
    broker_app.dies_action_fails.send()
    worker_factory("test_dead")
    wait_for(lambda: db.execute("SELECT read_ct FROM pgmq.q_test_dead").fetchone() is not None)
    time.sleep(0.5)
    assert queue_count(db, "test_dead", "a") == 0
    row = db.execute("SELECT read_ct, vt > now() + interval '10 seconds' FROM pgmq.q_test_dead").fetchone()
    assert row == (1, True)  # kept, and hidden until the action is tried again


def test_a_fair_queue_serves_each_key_in_turn(database_url, db):
    # Given 10 messages of tenant a, then one of tenant b, on a queue read fairly by tenant
    create_queue(db, "fair_test")
    fair = Broker(database_url)
    fair.read_fairly("fair_test", key="tenant")
    plain = Broker(database_url)
    for i in range(10):
        plain.send("fair_test", {"tenant": "a", "n": i}, task="t")
    plain.send("fair_test", {"tenant": "b", "n": 0}, task="t")
    try:
        with fair.db.connection() as conn:
            # When two readers take one message each (the first stays in flight)
            first = fair.read(conn, "fair_test", 30)
            second = fair.read(conn, "fair_test", 30)
            rest = fair.read(conn, "fair_test", 30, qty=20)
        # Then b's only message comes right after a's first, not after a's ten
        assert [(m.body["tenant"], m.body["n"]) for m in first + second] == [("a", 0), ("b", 0)]
        assert [m.body["n"] for m in rest] == list(range(1, 10)) and all(m.read_ct == 1 for m in rest)
    finally:
        for b in (fair, plain):
            b.close()


def test_one_fair_read_of_several_comes_back_in_turns(database_url, db):
    # Given 10 messages of tenant a, then 2 of tenant b, on a queue read fairly by tenant
    create_queue(db, "fair_order")
    fair = Broker(database_url)
    fair.read_fairly("fair_order", key="tenant")
    for i in range(10):
        fair.send("fair_order", {"tenant": "a", "n": i}, task="t")
    for i in range(2):
        fair.send("fair_order", {"tenant": "b", "n": i}, task="t")
    try:
        # When one read takes them all
        with fair.db.connection() as conn:
            got = fair.read(conn, "fair_order", 30, qty=20)
        # Then they come in turns (a consumer thread starts them in this order): b's are not last
        assert [(m.body["tenant"], m.body["n"]) for m in got][:4] == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
        assert len(got) == 12
    finally:
        fair.close()


def test_a_time_sized_task_reads_one_message_first_then_more_as_they_prove_quick(
    app, db, worker_factory, monkeypatch
):
    # Given a task reading about 10 s of messages at once (at most 5), and 30 quick messages
    asked = []
    read = app.read
    monkeypatch.setattr(
        app, "read", lambda conn, queue, vt_s, qty=1: asked.append(qty) or read(conn, queue, vt_s, qty)
    )
    for i in range(30):
        broker_app.sized.send(tag=f"s{i}")
    # When one consumer thread drains them
    worker_factory("test_sized")
    wait_for(lambda: queue_count(db, "test_sized") == 0)
    # Then its first read took one message (nothing measured yet), later ones the most, and each
    # message ran once
    assert asked[0] == 1 and 5 in asked and max(asked) == 5
    assert sorted(tag for _, _, tag in runs(db)) == sorted(f"s{i}" for i in range(30))


def test_a_message_read_ahead_is_not_started_past_a_third_of_its_visibility_timeout(
    app, db, worker_factory, monkeypatch
):
    # Given two messages read together, hidden for 2 s, the first of which takes 1.2 s
    reads = []
    read = app.read

    def recording_read(conn, queue, vt_s, qty=1):
        got = read(conn, queue, vt_s, qty)
        reads.append([m.msg_id for m in got])
        return got

    monkeypatch.setattr(app, "read", recording_read)
    first = broker_app.ahead.send(tag="first")
    second = broker_app.ahead.send(tag="second")
    # When one consumer thread handles them
    worker_factory("test_ahead")
    wait_for(lambda: queue_count(db, "test_ahead") == 0, timeout=15)
    # Then the second was not started from the first read (another reader could have had it by
    # then): it was given back at once (its read not counted) and ran from a second read
    assert [ids for ids in reads if ids][:2] == [[first, second], [second]]
    assert runs(db) == [(first, 1, "first"), (second, 1, "second")]


def test_postponed_messages_do_not_make_a_time_sized_queue_read_more(app, db, worker_factory, monkeypatch):
    # Given a time-sized task that postpones every one of its 12 messages (no work done)
    asked = []
    read = app.read
    monkeypatch.setattr(
        app, "read", lambda conn, queue, vt_s, qty=1: asked.append(qty) or read(conn, queue, vt_s, qty)
    )
    for i in range(12):
        broker_app.sized_busy.send(n=i)
    # When one consumer thread has read each of them
    worker_factory("test_sized_busy")
    wait_for(
        lambda: (
            db.execute("SELECT count(*) FROM pgmq.q_test_sized_busy WHERE read_ct > 0").fetchone()[0] == 12
        )
    )
    # Then it read them one at a time: a postponement is not a measure of the queue's work
    assert set(asked) == {1}


def test_a_stopping_worker_gives_back_the_messages_it_read_but_did_not_start(app, db, worker_factory):
    # Given two messages read together and hidden for 30 s, the first of which is running
    broker_app.HELD_STARTED.clear()
    broker_app.HELD_RELEASE.clear()
    first = broker_app.held.send(tag="first")
    second = broker_app.held.send(tag="second")
    worker = worker_factory("test_held")
    assert broker_app.HELD_STARTED.wait(10)
    # When the worker stops while the first still runs
    worker.stop()
    # Then the second is visible again at once (not 30 s after its read, nor after the first
    # ends), its read not counted as a delivery; and it does not run here
    visible = db.execute(
        "SELECT msg_id, read_ct FROM pgmq.q_test_held WHERE vt <= clock_timestamp() ORDER BY msg_id"
    ).fetchall()
    assert visible == [(second, 0)]
    broker_app.HELD_RELEASE.set()
    worker.join(10)
    assert runs(db) == [(first, 1, "first")]


def test_a_give_back_leaves_a_message_another_reader_took_since(app, db):
    # Given a message read (hidden) and then read again by another reader (its vt moved)
    msg_id = broker_app.record.send(tag="taken")
    with psycopg.connect(app.db.dsn, autocommit=True) as conn:
        [stale] = app.read(conn, "test_ok", 30, 1)
        db.execute("UPDATE pgmq.q_test_ok SET vt = vt + interval '1 minute', read_ct = read_ct + 1")
        # When the first reader gives it back
        given = give_back(conn, [stale])
    # Then nothing changes: the other reader keeps it hidden and its delivery counted
    row = db.execute(
        "SELECT read_ct, vt > clock_timestamp() FROM pgmq.q_test_ok WHERE msg_id = %s", (msg_id,)
    )
    assert given == 0 and row.fetchone() == (2, True)


def test_a_long_run_gives_back_the_rest_of_its_read(app, db, worker_factory):
    # Given two messages read together and hidden for 30 s, the first of which keeps running
    broker_app.HELD_STARTED.clear()
    broker_app.HELD_RELEASE.clear()
    first = broker_app.held.send(tag="first")
    second = broker_app.held.send(tag="second")
    worker_factory("test_held")
    assert broker_app.HELD_STARTED.wait(10)
    try:
        # When the first has run past RUN_LONG_S
        # Then the second is visible again while the first still runs (another thread may start
        # it), its read not counted as a delivery
        wait_for(
            lambda: (
                db.execute(
                    "SELECT msg_id, read_ct FROM pgmq.q_test_held WHERE vt <= clock_timestamp()"
                ).fetchall()
                == [(second, 0)]
            )
        )
        assert runs(db) == [(first, 1, "first")]
    finally:
        broker_app.HELD_RELEASE.set()


def test_a_transaction_of_many_sends_notifies_once_and_writes_no_throttle_row(database_url, db):
    # Given a queue, and a connection listening on its insert channel
    create_queue(db, "notify_test")
    create_queue(db, "notify_test")  # idempotent: one trigger, not two
    sender = Broker(database_url)
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(insert_channel("notify_test"))))
        # When one transaction sends 50 messages, one statement each
        with sender.db.connection() as conn, conn.transaction():
            for i in range(50):
                sender.send("notify_test", {"n": i}, task="t", conn=conn)
        # Then the listener hears one notification, and no sender wrote pgmq's throttle row
        heard = list(listener.notifies(timeout=2, stop_after=5))
    sender.close()
    assert [n.channel for n in heard] == [insert_channel("notify_test")]
    assert db.execute("SELECT count(*) FROM pgmq.notify_insert_throttle").fetchone()[0] == 0
    triggers = db.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'pgmq.q_notify_test'::regclass AND NOT tgisinternal"
    ).fetchall()
    assert triggers == [("pnil_notify_insert",)]
