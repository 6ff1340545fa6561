"""A workflow group member's COMPLETED end on the executor: recorded, with its join's count-down,
by the statement that starts the consumer thread's next execution (store/end_then_start.py), and
with the whole hand-over in a transaction of its own when it is the join's last member, when its
run ended, or when another member counted the join down between the statement's snapshot and its
own count-down."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg

from executions.sweep import sweep
from infra.database import ForkSafePool
from tests.integration.api_fixtures import api
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import execution_events_subscribed, ready_function
from tests.integration.retry_helpers import submit
from tests.integration.test_executor_batching import (
    ECHO,
    db_url,
    read_messages,
    service,
    slot_is_free,
    thread_conn,
)
from tests.integration.workflow_helpers import get_run

__all__ = ["api", "db_url", "service", "thread_conn"]  # fixtures used below


def group_run(client, fid: str, width: int) -> str:
    resp = client.post(
        "/workflows/runs", json={"input": {"n": 1}, "steps": {"group": [{"function": fid}] * width}}
    )
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["id"]


def members(db_url, run_id: str, n: int) -> list[tuple[int, dict]]:
    """The run's n step messages, in step order."""
    messages = read_messages(db_url, n)
    with psycopg.connect(db_url, autocommit=True) as conn:
        paths = dict(
            conn.execute(
                "SELECT id::text, step_path FROM executions WHERE workflow_run_id = %s", (run_id,)
            ).fetchall()
        )
    return sorted(messages, key=lambda m: int(paths[m[1]["executionId"]].rsplit("/", 1)[1]))


def member_and_plain(client, db_url, service, conn):
    """A function with a 2-wide group run whose first member ran on `conn` (its end deferred),
    and a function of one slot; returns (member fn, plain fn, run id, the two member messages)."""
    member_fn = ready_function(client, "javascript", ECHO)
    plain_fn = ready_function(client, "javascript", ECHO, {"maxConcurrentRuns": 1})
    run_id = group_run(client, member_fn, 2)
    messages = members(db_url, run_id, 2)
    run_one(service, conn, messages[0])
    return member_fn, plain_fn, run_id, messages


def join_left(db_url, run_id: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        (joins,) = conn.execute("SELECT joins FROM workflow_runs WHERE id = %s", (run_id,)).fetchone()
    (left,) = joins.values()
    return left


def statuses(client, ids) -> list[str]:
    return [client.get(f"/executions/{i}").get_json()["status"] for i in ids]


def run_one(service, conn, message, *, ran: bool = True) -> None:
    msg_id, body = message
    outcome = service.run_queued(
        uuid.UUID(body["executionId"]),
        uuid.UUID(body["functionId"]),
        message=("executions", msg_id),
        conn=conn,
        defer_end=True,
    )
    assert outcome.ran is ran


def test_members_end_with_the_next_start_and_the_last_one_hands_over(api, db_url, service, thread_conn):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    run_id = group_run(client, fid, 3)
    messages = members(db_url, run_id, 3)
    ids = [m[1]["executionId"] for m in messages]

    for message in messages:
        run_one(service, thread_conn, message)

    # Three starts, the first two carrying the end and count-down of the member before, and one
    # read of the run's canvas (kept in the process for the run's other steps).
    assert thread_conn.statements == 4
    assert statuses(client, ids) == ["COMPLETED", "COMPLETED", "RUNNING"]
    assert join_left(db_url, run_id) == 1
    assert get_run(client, run_id)["status"] == "RUNNING"

    service.flush_queued_end(thread_conn)  # the last member: its hand-over ends the run
    assert statuses(client, ids) == ["COMPLETED"] * 3
    assert join_left(db_url, run_id) == 0
    run = get_run(client, run_id)
    assert run["status"] == "COMPLETED"
    assert run["output"] == [{"n": 1}] * 3
    assert slot_is_free(db_url, fid)


def test_the_last_member_ended_with_a_next_start_keeps_that_start_s_slot(api, db_url, service, thread_conn):
    client = api.test_client()
    member_fn, plain_fn, run_id, (first, last) = member_and_plain(client, db_url, service, thread_conn)
    run_one(service, thread_conn, last)
    plain = submit(client, plain_fn, {"plain": True})["id"]
    (plain_message,) = read_messages(db_url, 1)

    # The statement that starts `plain` finds `last` to be the join's last member: it leaves
    # its end to a transaction of its own, which frees its slot and not plain's.
    run_one(service, thread_conn, plain_message)

    run = get_run(client, run_id)
    assert run["status"] == "COMPLETED"
    assert run["output"] == [{"n": 1}] * 2
    assert statuses(client, [plain]) == ["RUNNING"]
    assert slot_is_free(db_url, member_fn)
    assert not slot_is_free(db_url, plain_fn)
    service.flush_queued_end(thread_conn)
    assert statuses(client, [plain]) == ["COMPLETED"]
    assert slot_is_free(db_url, plain_fn)


def test_a_member_of_a_cancelled_run_ends_without_a_count_down(api, db_url, service, thread_conn):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    run_id = group_run(client, fid, 3)
    first, second, _ = members(db_url, run_id, 3)
    run_one(service, thread_conn, first)
    assert client.post(f"/workflows/runs/{run_id}/cancel").status_code == 200

    # Not started (its run was cancelled): the statement records the first member's end alone.
    run_one(service, thread_conn, second, ran=False)

    assert get_run(client, run_id)["status"] == "CANCELLED"
    assert join_left(db_url, run_id) == 3
    assert statuses(client, [first[1]["executionId"], second[1]["executionId"]]) == ["CANCELLED"] * 2
    service.flush_queued_end(thread_conn)
    assert slot_is_free(db_url, fid)


def test_a_count_down_that_lost_the_race_rolls_its_statement_back(api, db_url, service, thread_conn):
    """The statement's snapshot sees two members left; before its count-down takes the run row,
    another transaction counts one down (standing in for the other member's hand-over). Counting
    again would leave the join at zero with nobody to queue what follows, so the statement rolls
    back whole and the end is recorded with its hand-over, then the next start alone."""
    client = api.test_client()
    member_fn, plain_fn, run_id, (first, _) = member_and_plain(client, db_url, service, thread_conn)
    plain = submit(client, plain_fn, {})["id"]
    (plain_message,) = read_messages(db_url, 1)

    # A subscriber, so that the statements write the events (the rolled-back one's must go).
    with execution_events_subscribed(db_url):
        with psycopg.connect(db_url) as other:
            other.execute(
                "UPDATE workflow_runs SET joins = jsonb_set(joins, ARRAY[k], to_jsonb((joins->>k)::int - 1)) "
                "FROM jsonb_object_keys((SELECT joins FROM workflow_runs WHERE id = %(id)s)) k "
                "WHERE id = %(id)s",
                {"id": run_id},
            )
            waited = []
            committer = threading.Thread(
                target=_commit_once_waited_for, args=(db_url, thread_conn.info.backend_pid, other, waited)
            )
            committer.start()
            try:
                run_one(service, thread_conn, plain_message)  # waits for `other` at its count-down
            finally:
                committer.join(30)
    assert waited == [True]

    # Counted down once (by the other transaction) and then to zero by this member's hand-over.
    assert join_left(db_url, run_id) == 0
    assert statuses(client, [first[1]["executionId"], plain]) == ["COMPLETED", "RUNNING"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        left = conn.execute("SELECT count(*) FROM pgmq.q_executions WHERE msg_id = %s", (plain_message[0],))
        assert left.fetchone()[0] == 0  # the retried start deleted its message
        ended_events = conn.execute(
            "SELECT count(*) FROM events WHERE source_execution_id = %s "
            "AND type = 'jsruntime.execution.completed'",
            (first[1]["executionId"],),
        ).fetchone()[0]
    assert ended_events == 1  # the rolled-back statement's event is gone with it
    assert slot_is_free(db_url, member_fn)
    assert not slot_is_free(db_url, plain_fn)
    service.flush_queued_end(thread_conn)
    assert statuses(client, [plain]) == ["COMPLETED"]


def _commit_once_waited_for(db_url, pid: int, other, waited: list) -> None:
    """Commit `other` once the backend `pid` waits for a row lock (or after 20 s)."""
    deadline = time.monotonic() + 20
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (pid,))
            if row.fetchone()[0]:
                waited.append(True)
                break
            time.sleep(0.01)
    other.commit()


def test_a_member_whose_deferred_end_died_with_its_connection_fails_its_run_once(api, db_url, service):
    """A process killed after a member ran and before the statement recording its end: the
    member stays RUNNING with its slot free, and the sweep fails it (and its run at that step),
    as it does a member killed while it ran. No step runs twice."""
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    run_id = group_run(client, fid, 2)
    first, _ = members(db_url, run_id, 2)
    victim = psycopg.connect(db_url, autocommit=True)
    try:
        run_one(service, victim, first)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
    finally:
        victim.close()
    service._take_end()  # what the killed process held in memory is gone with it

    pool = ForkSafePool(db_url, max_size=1, name="test-sweep")
    try:
        assert wait_for(lambda: sweep(pool) == 1 or None, timeout=20)
    finally:
        pool.close()
    run = get_run(client, run_id)
    assert run["status"] == "FAILED" and run["failedStep"] == "/steps/group/0"
    assert statuses(client, [first[1]["executionId"]]) == ["FAILED"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        runs = conn.execute(
            "SELECT count(*) FROM executions WHERE workflow_run_id = %s", (run_id,)
        ).fetchone()[0]
    assert runs == 2  # the two members, each once
