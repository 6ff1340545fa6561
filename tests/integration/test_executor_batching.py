"""The executor's batched statements: a consumer thread records a queued execution's end in the
statement that starts its next one (store/end_then_start.py), so N executions drained one after
another on one connection cost N + 1 statements (and commits), not 2N. Slots, events, cancels
and retries stay those of the two statements alone."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from contracts.queues import EXECUTIONS
from store import positional
from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import (
    execution_event_types,
    execution_events_subscribed,
    execution_service,
    ready_function,
)
from tests.integration.retry_helpers import NO_WAIT, submit

ECHO = "function handle(input) { return input; }"
FAILS = "function handle(input) { throw new Error('failing on purpose'); }"

__all__ = ["api"]  # fixture used below


class Counting:
    """Counts the statements sent on its connection (conn.execute and conn.cursor().execute)."""

    def execute(self, *args, **kwargs):
        self.connection.statements += 1
        return super().execute(*args, **kwargs)


class CountingCursor(Counting, psycopg.Cursor):
    pass


class CountingRawCursor(Counting, psycopg.RawCursor):
    """The cursor of store/positional.py's statements, counted the same way."""


@pytest.fixture
def db_url(api):
    return api.config["TEST_DATABASE_URL"]


@pytest.fixture
def service(db_url):
    with execution_service(db_url) as svc:
        yield svc


@pytest.fixture
def thread_conn(db_url, monkeypatch):
    """A consumer thread's autocommit connection that counts its statements."""
    monkeypatch.setattr(positional, "RawCursor", CountingRawCursor)
    with psycopg.connect(db_url, autocommit=True, cursor_factory=CountingCursor) as conn:
        conn.statements = 0
        yield conn


def read_messages(db_url, n):
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT msg_id, message FROM pgmq.read(%s, 30, %s)", (EXECUTIONS, n)).fetchall()
    assert len(rows) == n
    return rows


def drain(service, conn, messages, *, defer_end=True):
    """What a consumer thread does with one read: run each message's execution, then flush."""
    for msg_id, body in messages:
        outcome = service.run_queued(
            uuid.UUID(body["executionId"]),
            uuid.UUID(body["functionId"]),
            message=(EXECUTIONS, msg_id),
            conn=conn,
            defer_end=defer_end,
        )
        assert outcome.ran
    service.flush_queued_end(conn)


def slot_is_free(db_url, fid) -> bool:
    with psycopg.connect(db_url, autocommit=True) as other:
        key = other.execute("SELECT slot_key FROM functions WHERE id = %s", (fid,)).fetchone()[0]
        free = other.execute("SELECT pg_try_advisory_lock(%s, 0)", (key,)).fetchone()[0]
        other.execute("SELECT pg_advisory_unlock_all()")
    return free


def test_n_queued_executions_on_one_thread_take_n_plus_one_statements(api, db_url, service, thread_conn):
    client = api.test_client()
    # One slot: every execution after the first retakes, in the statement that ends the one
    # before, the slot that statement frees.
    fid = ready_function(client, "javascript", ECHO, {"maxConcurrentRuns": 1})
    n = 6
    ids = [submit(client, fid, {"i": i})["id"] for i in range(n)]
    messages = read_messages(db_url, n)

    # A subscriber: the statements write the executions' events too (none are, otherwise).
    with execution_events_subscribed(db_url):
        drain(service, thread_conn, messages)

    # Unbatched, every execution costs a start and an end statement: 2n.
    assert thread_conn.statements == n + 1
    rows = [client.get(f"/executions/{i}").get_json() for i in ids]
    assert [r["status"] for r in rows] == ["COMPLETED"] * n
    assert [r["output"] for r in rows] == [{"i": i} for i in range(n)]
    # One slot, one at a time, and the recorded times say so: each end (recorded by the
    # statement that starts the next) comes no later than the next one's start.
    with psycopg.connect(db_url, autocommit=True) as conn:
        times = conn.execute(
            "SELECT started_at, completed_at FROM executions WHERE id = ANY(%s) ORDER BY started_at",
            ([uuid.UUID(i) for i in ids],),
        ).fetchall()
    assert all(ended <= next_started for (_, ended), (next_started, _) in zip(times, times[1:], strict=False))
    with psycopg.connect(db_url, autocommit=True) as conn:
        written = conn.execute(
            "SELECT type, count(*) FROM events WHERE source_execution_id = ANY(%s) "
            "GROUP BY type ORDER BY type",
            ([uuid.UUID(i) for i in ids],),
        ).fetchall()
        events = execution_event_types(conn, ids)  # as GET /events shows them: each once
        left = conn.execute(f"SELECT count(*) FROM pgmq.q_{EXECUTIONS}").fetchone()[0]
    assert written == events == [("jsruntime.execution.completed", n), ("jsruntime.execution.started", n)]
    assert left == 0  # every message was deleted as its execution started
    # The last slot was freed by the flush; none is left held twice on the thread's connection.
    assert (
        thread_conn.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
        ).fetchone()[0]
        == 0
    )
    assert slot_is_free(db_url, fid)


def test_a_deferred_end_holds_its_slot_until_it_is_recorded(api, db_url, service, thread_conn):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO, {"maxConcurrentRuns": 1})
    first = submit(client, fid, {})["id"]
    (message,) = read_messages(db_url, 1)

    service.run_queued(
        uuid.UUID(first), uuid.UUID(fid), message=(EXECUTIONS, message[0]), conn=thread_conn, defer_end=True
    )

    # Ran, not yet recorded: still RUNNING with its slot held (the sweep does not take it for lost).
    assert client.get(f"/executions/{first}").get_json()["status"] == "RUNNING"
    assert not slot_is_free(db_url, fid)
    service.flush_queued_end(thread_conn)
    assert client.get(f"/executions/{first}").get_json()["status"] == "COMPLETED"
    assert slot_is_free(db_url, fid)


def test_a_failed_attempt_ended_with_the_next_start_gets_its_next_attempt(api, db_url, service, thread_conn):
    client = api.test_client()
    fid = ready_function(client, "javascript", FAILS)
    echo = ready_function(client, "javascript", ECHO)
    failing = submit(client, fid, {}, retryPolicy={"maxAttempts": 2, **NO_WAIT})["id"]
    after = submit(client, echo, {"after": True})["id"]
    messages = sorted(read_messages(db_url, 2), key=lambda m: m[1]["executionId"] != failing)

    drain(service, thread_conn, messages)

    assert thread_conn.statements == 3
    first = client.get(f"/executions/{failing}").get_json()
    assert first["status"] == "FAILED" and first["retried"] is True
    assert client.get(f"/executions/{after}").get_json()["status"] == "COMPLETED"
    with psycopg.connect(db_url, autocommit=True) as conn:
        next_attempt = conn.execute(
            "SELECT status, attempt FROM executions WHERE retry_of = %s", (uuid.UUID(failing),)
        ).fetchone()
        retrying = conn.execute(
            "SELECT count(*) FROM events "
            "WHERE type = 'jsruntime.execution.retrying' AND source_execution_id = %s",
            (uuid.UUID(failing),),
        ).fetchone()[0]
    assert next_attempt == ("PENDING", 2) and retrying == 1


def test_a_drain_converts_no_statement_text_per_execution(api, db_url, service, thread_conn, monkeypatch):
    """psycopg caches its conversion of `%(name)s` placeholders only for statements under 4 kB;
    the end-then-start statement (7-10 kB) is converted once, at import (store/positional.py),
    not by psycopg on every execution."""
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO, {"maxConcurrentRuns": 1})
    n = 4
    [submit(client, fid, {"i": i}) for i in range(n)]
    messages = read_messages(db_url, n)
    uncached = psycopg._queries._query2pg_nocache
    parsed: list[int] = []

    def counting(query, encoding):
        parsed.append(len(query))
        return uncached(query, encoding)

    monkeypatch.setattr(psycopg._queries, "_query2pg_nocache", counting)

    drain(service, thread_conn, messages)

    assert thread_conn.statements == n + 1
    assert parsed == []  # before store/positional.py: one 7 kB parse per execution
