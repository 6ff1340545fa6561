"""Events: POST /events fan-out to subscribers, tenant isolation, exactly once, domain events, loop guard."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from broker.message import Message
from store import tenants
from tests.integration.api_fixtures import fresh_api as api
from tests.integration.conftest import Processes, wait_for
from tests.integration.execute_helpers import (
    execute,
    expect_error,
    ready_function,
    wait_compiled,
)

ECHO = "function handle(input) { return input; }"

__all__ = ["api"]  # fixture used below


@pytest.fixture
def executor(api):
    procs = Processes(api.config["TEST_DATABASE_URL"])
    procs.start(
        "-m",
        "broker",
        "worker",
        "tasks:broker",
        "executions",
        "events",
        "--name",
        "executor",
        name="executor",
    )
    yield procs
    procs.stop_all()


def subscriber(client, patterns, source=ECHO, headers=None):
    resp = client.post(
        "/functions",
        json={
            "name": f"sub-{'-'.join(patterns)}-{uuid.uuid4().hex[:6]}",
            "language": "javascript",
            "source": source,
            "type": "EVENT",
            "eventTypes": patterns,
        },
        headers=headers or {},
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def runs_of(client, fid, headers=None):
    return client.get(f"/functions/{fid}/executions?triggerType=EVENT", headers=headers or {}).get_json()


def test_an_event_fans_out_to_every_matching_subscriber_once(api, executor):
    client = api.test_client()
    exact, wildcard, other = (
        subscriber(client, p) for p in (["order.created"], ["order.*"], ["user.created"])
    )
    paused = subscriber(client, ["order.created"])
    wait_compiled(client, [exact, wildcard, other, paused])
    client.put(f"/functions/{paused}", json={"state": "PAUSED"})

    resp = client.post("/events", json={"type": "order.created", "payload": {"orderId": 7}})

    assert resp.status_code == 202
    event_id = resp.get_json()["id"]
    for fid in (exact, wildcard):
        run = wait_for(
            lambda fid=fid: [r for r in runs_of(client, fid) if r["status"] == "COMPLETED"], timeout=30
        )
        assert len(run) == 1 and run[0]["output"]["payload"] == {"orderId": 7}
        assert run[0]["output"]["type"] == "order.created" and run[0]["output"]["id"] == event_id
        assert run[0]["triggerData"]["eventId"] == event_id and run[0]["triggerData"]["depth"] == 1
    assert runs_of(client, other) == [] and runs_of(client, paused) == []
    shown = wait_for(
        lambda: (e := client.get(f"/events/{event_id}").get_json())["dispatchedAt"] and e, timeout=10
    )
    assert shown["executionsStarted"] == 2 and len(shown["executions"]) == 2
    listed = client.get("/events?type=order.created").get_json()
    assert [e["id"] for e in listed] == [event_id]


def test_events_never_cross_tenants(api, executor):
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        key_a = tenants.create_key(conn, "acme", name="a")[1]
        key_b = tenants.create_key(conn, "globex", name="b")[1]
    client = api.test_client()
    a, b = {"Authorization": f"Bearer {key_a}"}, {"Authorization": f"Bearer {key_b}"}
    listener_b = subscriber(client, ["order.created"], headers=b)
    listener_a = subscriber(client, ["order.created"], headers=a)
    wait_for(
        lambda: client.get(f"/functions/{listener_b}", headers=b).get_json()["status"] == "READY", timeout=60
    )
    wait_for(
        lambda: client.get(f"/functions/{listener_a}", headers=a).get_json()["status"] == "READY", timeout=60
    )

    event_id = client.post("/events", json={"type": "order.created"}, headers=a).get_json()["id"]

    wait_for(lambda: runs_of(client, listener_a, a), timeout=30)
    assert runs_of(client, listener_b, b) == []
    expect_error(client.get(f"/events/{event_id}", headers=b), 404)
    assert client.get("/events", headers=b).get_json() == [] or all(
        e["type"].startswith("jsruntime.") for e in client.get("/events", headers=b).get_json()
    )


def test_a_redelivered_event_message_starts_no_second_execution(api):
    from tasks import broker
    from tasks.dispatch_events import dispatch_event

    client = api.test_client()
    fids = [subscriber(client, ["ping"]), subscriber(client, ["*"])]
    wait_compiled(client, fids)
    event_id = client.post("/events", json={"type": "ping"}).get_json()["id"]
    broker.connect(api.config["TEST_DATABASE_URL"])
    message = Message(queue="events", msg_id=0, read_ct=1, enqueued_at=None, vt=None, body={}, headers={})

    dispatch_event({"eventId": event_id}, message)
    dispatch_event({"eventId": event_id}, message)

    with psycopg.connect(api.config["TEST_DATABASE_URL"]) as conn:
        counts = conn.execute(
            "SELECT function_id, count(*) FROM executions WHERE trigger_data->>'eventId' = %s GROUP BY 1",
            (event_id,),
        ).fetchall()
    assert sorted(n for _, n in counts) == [1, 1]
    broker.close()


def test_domain_events_are_published_once_with_the_seed_fields(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", ECHO)
    client.put(f"/functions/{fid}", json={"description": "x"})
    client.put(f"/functions/{fid}", json={"state": "PAUSED"})
    client.put(f"/functions/{fid}", json={"state": "ACTIVE"})
    done = execute(client, fid, {"n": 1})
    failing = ready_function(client, "javascript", "function handle() { throw new Error('nope'); }")
    failed = execute(client, failing)
    slow = ready_function(
        client, "javascript", "function handle() { while (true) {} }", {"maxExecutionTimeMs": 200}
    )
    timed_out = execute(client, slow)
    client.delete(f"/functions/{failing}")

    assert all(not e["type"].startswith("jsruntime.") for e in client.get("/events").get_json())
    events = client.get("/events?limit=1000&source=platform").get_json()
    by_type: dict[str, list] = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e["payload"])
    created = [p for p in by_type["jsruntime.script.created"] if p["scriptId"] == fid]
    assert len(created) == 1 and {"scriptId", "tenantId", "name", "type", "createdBy", "createdAt"} <= set(
        created[0]
    )
    updated = [p for p in by_type["jsruntime.script.updated"] if p["scriptId"] == fid]
    assert len(updated) == 3 and {"updatedBy", "updatedAt", "versionNumber"} <= set(updated[0])
    changes = [(p["oldStatus"], p["newStatus"]) for p in by_type["jsruntime.script.status_changed"]]
    assert sorted(changes) == [("ACTIVE", "PAUSED"), ("PAUSED", "ACTIVE")]
    started = [p for p in by_type["jsruntime.execution.started"] if p["executionId"] == done["id"]]
    assert len(started) == 1 and {"scriptId", "tenantId", "triggerType", "startedAt"} <= set(started[0])
    completed = [p for p in by_type["jsruntime.execution.completed"] if p["executionId"] == done["id"]]
    assert len(completed) == 1 and {"durationMs", "completedAt"} <= set(completed[0])
    fail = [p for p in by_type["jsruntime.execution.failed"] if p["executionId"] == failed["id"]]
    assert len(fail) == 1 and "nope" in fail[0]["error"] and fail[0]["failedAt"]
    timeout = [p for p in by_type["jsruntime.execution.timeout"] if p["executionId"] == timed_out["id"]]
    assert len(timeout) == 1 and timeout[0]["timeoutAt"] and "durationMs" in timeout[0]
    deleted = by_type["jsruntime.script.deleted"]
    assert [p["scriptId"] for p in deleted] == [failing] and deleted[0]["deletedBy"]
    assert all(e["tenantId"] for e in events)


def test_a_function_triggered_by_its_own_completion_stops_at_the_depth_limit(api, executor):
    client = api.test_client()
    looping = subscriber(client, ["jsruntime.execution.completed"])
    starter = ready_function(client, "javascript", ECHO)
    wait_compiled(client, [looping])

    execute(client, starter)

    def settled():
        events = client.get("/events?type=jsruntime.execution.completed&limit=100").get_json()
        return [e for e in events if e["suppressed"]] and events

    events = wait_for(settled, timeout=60)
    runs = runs_of(client, looping)
    assert len(runs) == 8  # depths 1..8; the completion at depth 8 is recorded, not delivered
    assert sorted(r["triggerData"]["depth"] for r in runs) == list(range(1, 9))
    assert [e["depth"] for e in events if e["suppressed"]] == [8]


def test_events_list_the_users_own_by_default_and_the_platforms_on_request(api):
    client = api.test_client()
    ready_function(client, "javascript", ECHO)  # publishes jsruntime.script.created
    client.post("/events", json={"type": "mine.happened", "payload": {}})

    def types(query: str) -> set[str]:
        return {e["type"].split(".")[0] for e in client.get(f"/events?limit=1000{query}").get_json()}

    assert types("") == {"mine"}
    assert types("&source=user") == {"mine"}
    assert types("&source=platform") == {"jsruntime"}
    assert types("&source=all") == {"mine", "jsruntime"}
    expect_error(client.get("/events?source=everyone"), 400)


def test_bad_events_are_400(api):
    client = api.test_client()
    expect_error(client.post("/events", json={"type": "bad type!"}), 400)
    expect_error(client.post("/events", json={"type": "a.b", "payload": [1]}), 400)
    expect_error(client.post("/events", json={"payload": {}}), 400)
    expect_error(client.get("/events/00000000-0000-0000-0000-000000000000"), 404)
