"""Tasks used by the broker tests; importable so worker subprocesses can run them too.

Each task records its runs in the table `task_runs` of the database it is given.
"""

from __future__ import annotations

import os
import threading
import time

import psycopg

from broker import Broker, Postpone, Reject

broker = Broker()

RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS task_runs (
    id serial PRIMARY KEY, msg_id bigint, read_ct int, tag text, pid int,
    started_at timestamptz DEFAULT clock_timestamp(), finished_at timestamptz
)
"""


def _record(delivery, tag: str, finished: bool = True) -> int:
    with psycopg.connect(broker.db.dsn, autocommit=True) as conn:
        return conn.execute(
            "INSERT INTO task_runs (msg_id, read_ct, tag, pid, finished_at) "
            "VALUES (%s, %s, %s, %s, CASE WHEN %s THEN clock_timestamp() END) RETURNING id",
            (delivery.message.msg_id, delivery.read_ct, tag, os.getpid(), finished),
        ).fetchone()[0]


def _finish(run_id: int) -> None:
    with psycopg.connect(broker.db.dsn, autocommit=True) as conn:
        conn.execute("UPDATE task_runs SET finished_at = clock_timestamp() WHERE id = %s", (run_id,))


@broker.task(queue="test_ok", name="record", max_retries=3, visibility_timeout=5, backoff=0)
def record(payload, delivery):
    _record(delivery, payload.get("tag", "ok"))


@broker.task(queue="test_fail", name="always_fails", max_retries=2, visibility_timeout=5, backoff=0)
def always_fails(payload, delivery):
    _record(delivery, "attempt")
    raise RuntimeError("boom")


@broker.task(queue="test_fail", name="rejects", max_retries=5, visibility_timeout=5, backoff=0)
def rejects(payload, delivery):
    _record(delivery, "rejected")
    raise Reject("bad message")


@broker.task(queue="test_slow", name="slow", max_retries=5, visibility_timeout=2, backoff=0)
def slow(payload, delivery):
    run_id = _record(delivery, payload.get("tag", "slow"), finished=False)
    time.sleep(float(payload.get("seconds", 1.0)))
    _finish(run_id)


def _record_dead(payload, reason):
    with psycopg.connect(broker.db.dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO task_runs (tag, pid) VALUES (%s, %s)", ("dead: " + reason, os.getpid()))


def _dead_action_fails(payload, reason):
    raise RuntimeError("the dead-letter action could not run")


@broker.task(
    queue="test_dead",
    name="dies_with_action",
    max_retries=1,
    visibility_timeout=5,
    backoff=0,
    on_dead=_record_dead,
)
def dies_with_action(payload, delivery):
    raise RuntimeError("nope")


@broker.task(
    queue="test_dead",
    name="dies_action_fails",
    max_retries=0,
    visibility_timeout=5,
    backoff=0,
    on_dead=_dead_action_fails,
)
def dies_action_fails(payload, delivery):
    raise RuntimeError("nope")


@broker.task(queue="test_sized", name="sized", visibility_timeout=30, backoff=0, batch=5, batch_s=10.0)
def sized(payload, delivery):
    """Reads about 10 s of its messages at once, at most 5: a quick one lets reads grow to 5."""
    _record(delivery, payload.get("tag", "sized"))


@broker.task(queue="test_sized_busy", name="sized_busy", visibility_timeout=30, batch=5, batch_s=10.0)
def sized_busy(payload, delivery):
    """Postpones every message for 30 s (as the executor does a busy function's)."""
    raise Postpone(30, "busy")


@broker.task(queue="test_ahead", name="ahead", max_retries=5, visibility_timeout=2, backoff=0, batch=2)
def ahead(payload, delivery):
    """Two messages a read; each takes more than half of their visibility timeout."""
    _record(delivery, payload.get("tag", "ahead"))
    time.sleep(float(payload.get("seconds", 1.2)))


# The test releases the first message of a `held` read once the worker is stopping.
HELD_STARTED = threading.Event()
HELD_RELEASE = threading.Event()


@broker.task(queue="test_held", name="held", visibility_timeout=30, batch=2)
def held(payload, delivery):
    """Two messages a read, hidden 30 s; each runs until the test releases it."""
    _record(delivery, payload.get("tag", "held"))
    HELD_STARTED.set()
    HELD_RELEASE.wait(10)


QUEUES = (
    "test_ok",
    "test_fail",
    "test_slow",
    "test_dead",
    "test_sized",
    "test_sized_busy",
    "test_ahead",
    "test_held",
)
