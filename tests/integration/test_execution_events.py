"""pnil's execution events are read from the execution rows; a row in `events` is written only
for one a subscriber may receive (migration 0032, store/events.py)."""

from __future__ import annotations

import uuid

import psycopg

from events.domain import execution_of_event
from migrations import migration_files
from store import events as events_store
from store import tenants
from tests.integration.api_fixtures import fresh_api as api
from tests.integration.execute_helpers import execute, execution_events_subscribed, ready_function

ECHO = "function handle(input) { return input; }"
FAIL = "function handle() { throw new Error('nope'); }"

__all__ = ["api"]  # fixture used below


def _stored(db_url: str, execution_id: str) -> list[tuple]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT id, type, created_at FROM events WHERE source_execution_id = %s ORDER BY type",
            (uuid.UUID(execution_id),),
        ).fetchall()


def _platform(client, query: str = "") -> list[dict]:
    return client.get(f"/events?source=platform&limit=1000{query}").get_json()


def _of(events: list[dict], execution_id: str) -> dict[str, dict]:
    mine = [e for e in events if e["sourceExecutionId"] == execution_id]
    assert len(mine) == len({e["type"] for e in mine}), "an execution event is listed twice"
    return {e["type"]: e for e in mine}


def test_without_a_subscriber_no_row_is_written_and_the_events_are_read_from_the_execution(api):
    client = api.test_client()
    db_url = api.config["TEST_DATABASE_URL"]
    done = execute(client, ready_function(client, "javascript", ECHO), {"n": 1})

    assert _stored(db_url, done["id"]) == []
    events = _of(_platform(client), done["id"])
    started, completed = events["jsruntime.execution.started"], events["jsruntime.execution.completed"]
    assert started["payload"]["executionId"] == completed["payload"]["executionId"] == done["id"]
    assert started["occurredAt"] == done["startedAt"] and completed["occurredAt"] == done["completedAt"]
    assert completed["payload"]["durationMs"] == done["metrics"]["durationMs"]
    assert (started["dispatchedAt"], started["executionsStarted"], started["suppressed"]) == (None, 0, False)
    # Their ids name the execution and the kind, and GET /events/{id} reads each from it.
    assert execution_of_event(uuid.UUID(started["id"])) == (uuid.UUID(done["id"]), "started")
    assert execution_of_event(uuid.UUID(completed["id"])) == (uuid.UUID(done["id"]), "ended")
    for event in (started, completed):
        one = client.get(f"/events/{event['id']}").get_json()
        assert {k: one[k] for k in event} == event and one["executions"] == []


def test_with_a_subscriber_the_row_is_written_once_under_the_same_id(api):
    client = api.test_client()
    db_url = api.config["TEST_DATABASE_URL"]
    fid = ready_function(client, "javascript", ECHO)
    with execution_events_subscribed(db_url):
        done = execute(client, fid, {"n": 2})

    stored = _stored(db_url, done["id"])
    assert [row[1] for row in stored] == ["jsruntime.execution.completed", "jsruntime.execution.started"]
    events = _of(_platform(client), done["id"])
    assert {str(row[0]) for row in stored} == {e["id"] for e in events.values()}
    # Written at the time of the change it reports, as the execution row says it.
    assert {row[1]: row[2].isoformat() for row in stored} == {
        "jsruntime.execution.started": events["jsruntime.execution.started"]["occurredAt"],
        "jsruntime.execution.completed": events["jsruntime.execution.completed"]["occurredAt"],
    }


def test_a_type_filter_finds_the_newest_of_that_type_past_newer_events_of_others(api):
    client = api.test_client()
    failed = execute(client, ready_function(client, "javascript", FAIL))
    echo = ready_function(client, "javascript", ECHO)
    for i in range(5):
        execute(client, echo, {"i": i})

    (newest_failed,) = client.get("/events?type=jsruntime.execution.failed&limit=1").get_json()
    assert newest_failed["sourceExecutionId"] == failed["id"]
    assert newest_failed["payload"]["error"] == failed["errorMessage"]
    newest = client.get("/events?source=platform&limit=3").get_json()
    assert [e["occurredAt"] for e in newest] == sorted((e["occurredAt"] for e in newest), reverse=True)
    assert newest[0]["type"] == "jsruntime.execution.completed"
    # Your own events only, by default: pnil's are not listed.
    assert all(not e["type"].startswith("jsruntime.") for e in client.get("/events").get_json())


def test_events_past_the_tenant_s_event_retention_are_not_shown(api):
    client = api.test_client()
    db_url = api.config["TEST_DATABASE_URL"]
    done = execute(client, ready_function(client, "javascript", ECHO))
    ids = [e["id"] for e in _of(_platform(client), done["id"]).values()]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE executions SET started_at = started_at - interval '8 days', "
            "completed_at = completed_at - interval '8 days' WHERE id = %s",
            (uuid.UUID(done["id"]),),
        )

    assert _of(_platform(client), done["id"]) == {}  # the server's window: 7 days
    for event_id in ids:
        assert client.get(f"/events/{event_id}").status_code == 404


def test_an_unknown_execution_event_id_is_404(api):
    client = api.test_client()
    unknown = uuid.uuid4().hex
    for nibble in "89":
        event_id = uuid.UUID(unknown[:12] + nibble + unknown[13:])
        answer = client.get(f"/events/{event_id}")
        assert answer.status_code == 404 and "not found" in answer.get_json()["message"]


def test_another_tenant_never_reads_them(api):
    client = api.test_client()
    db_url = api.config["TEST_DATABASE_URL"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        key = tenants.create_key(conn, "initech", name="other")[1]
    other = {"Authorization": f"Bearer {key}"}
    done = execute(client, ready_function(client, "javascript", ECHO))
    ids = [e["id"] for e in _of(_platform(client), done["id"]).values()]

    assert len(ids) == 2
    assert _of(client.get("/events?source=platform&limit=1000", headers=other).get_json(), done["id"]) == {}
    for event_id in ids:
        assert client.get(f"/events/{event_id}", headers=other).status_code == 404


def test_the_migration_they_are_read_since_exists():
    # GET /events reads execution rows from when this migration was applied: a renamed file
    # would make it read them for events that were written to `events` too (twice listed).
    names = [path.name for path in migration_files()]
    assert "0032_execution_events_from_executions.sql" in names
    assert "0032_execution_events_from_executions.sql" in events_store._SINCE
