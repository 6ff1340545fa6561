"""Named workflows: PUT a canvas (versioned), run it by name, and start it on a cron tick or an event."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from infra.database import ForkSafePool
from scheduler.scheduler import Scheduler
from tests.integration.api_fixtures import api
from tests.integration.conftest import Processes, wait_for
from tests.integration.execute_helpers import expect_error
from tests.integration.workflow_helpers import fn, register_functions, wait_run

__all__ = ["api"]


pytestmark = pytest.mark.usefixtures("names", "executor")  # every test runs with them


@pytest.fixture(scope="module")
def names(api):
    return register_functions(api.test_client(), "named")


@pytest.fixture(scope="module")
def executor(api):
    procs = Processes(api.config["TEST_DATABASE_URL"])
    procs.start("-m", "broker", "worker", "tasks:broker", "executions", "events", "--name", "executor")
    yield procs
    procs.stop_all()


@pytest.fixture
def db(api):
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        yield conn


def put(client, name, body, status=200):
    resp = client.put(f"/workflows/{name}", json=body)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_put_versions_the_canvas_and_a_run_records_the_version_it_ran(client, names):
    first = put(client, "pipeline", {"steps": fn(names["inc"])}, 201)
    same = put(client, "pipeline", {"steps": fn(names["inc"]), "description": "adds one"})
    second = put(
        client,
        "pipeline",
        {"steps": {"chain": [fn(names["inc"]), fn(names["double"])]}, "changeDescription": "then double"},
    )

    assert (first["version"], same["version"], second["version"]) == (1, 1, 2)
    assert same["description"] == "adds one"
    versions = client.get("/workflows/pipeline/versions").get_json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["changeDescription"] == "then double"
    assert versions[1]["steps"] == fn(names["inc"])
    assert client.get("/workflows/pipeline").get_json()["version"] == 2
    assert "pipeline" in [w["name"] for w in client.get("/workflows").get_json()]

    resp = client.post("/workflows/pipeline/runs", json={"input": {"n": 4}})
    assert resp.status_code == 202 and resp.headers["Location"].startswith("/workflows/runs/")
    done = wait_run(client, resp.get_json()["id"])

    assert done["status"] == "COMPLETED" and done["output"] == {"n": 10}
    assert (done["workflowName"], done["workflowVersion"]) == ("pipeline", 2)


def test_bad_workflows_are_refused(client, names):
    data = expect_error(client.put("/workflows/w", json={"steps": {"chain": [fn("no-such-fn")]}}), 400)
    assert data["errors"]["pointer"] == "/steps/chain/0/function"
    expect_error(client.put("/workflows/runs", json={"steps": fn(names["inc"])}), 405)
    expect_error(client.put("/workflows/w", json={"steps": fn(names["inc"]), "type": "SCHEDULED"}), 400)
    expect_error(client.put("/workflows/w", json={"steps": fn(names["inc"]), "type": "EVENT"}), 400)
    expect_error(client.get("/workflows/nope"), 404)
    expect_error(client.get("/workflows/nope/versions"), 404)
    expect_error(client.post("/workflows/nope/runs", json={"input": {}}), 404)
    expect_error(client.delete("/workflows/nope"), 404)


def test_an_event_starts_an_event_workflow_once_with_the_event_as_input(client, names, db):
    put(client, "on-order", {"steps": fn(names["record"]), "type": "EVENT", "eventTypes": ["order.*"]}, 201)
    put(
        client,
        "on-order-ctx",
        {"steps": fn(names["ctx"]), "type": "EVENT", "eventTypes": ["order.created"]},
        201,
    )

    event_id = client.post("/events", json={"type": "order.created", "payload": {"id": 7}}).get_json()["id"]

    run = wait_for(
        lambda: [r for r in client.get("/workflows/runs").get_json() if r["workflowName"] == "on-order"],
        timeout=30,
    )
    assert len(run) == 1 and run[0]["triggerType"] == "EVENT"
    done = wait_run(client, run[0]["id"])
    assert done["output"]["seen"]["id"] == event_id and done["output"]["seen"]["payload"] == {"id": 7}
    # Its steps count as one event deep, like an EVENT execution (event loops stay bounded).
    ctx_run = wait_for(
        lambda: [r for r in client.get("/workflows/runs").get_json() if r["workflowName"] == "on-order-ctx"],
        timeout=30,
    )
    trigger = wait_run(client, ctx_run[0]["id"])["output"]
    assert trigger["type"] == "WORKFLOW" and trigger["depth"] == 1
    client.post("/events", json={"type": "invoice.created", "payload": {}})
    time.sleep(1.0)  # an event of another type starts nothing
    assert len([r for r in client.get("/workflows/runs").get_json() if r["workflowName"] == "on-order"]) == 1


def test_a_cron_tick_starts_a_scheduled_workflow_exactly_once(client, names, db, api):
    put(
        client,
        "nightly",
        {"steps": fn(names["ctx"]), "type": "SCHEDULED", "cronExpression": "* * * * *"},
        201,
    )
    boundary = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=6)
    db.execute(
        "UPDATE workflows SET schedule_cursor = %s WHERE name = 'nightly'", (boundary - timedelta(seconds=5),)
    )
    clock = _Clock(boundary - timedelta(seconds=5))
    schedulers = [
        Scheduler(ForkSafePool(api.config["TEST_DATABASE_URL"], max_size=4), clock=clock, sleep_cap_s=0.02)
        for _ in range(2)
    ]
    threads = [threading.Thread(target=s.run, daemon=True) for s in schedulers]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(s.listening.is_set() for s in schedulers))
        time.sleep(0.3)
        clock.now = boundary + timedelta(seconds=1)

        runs = wait_for(
            lambda: [r for r in client.get("/workflows/runs").get_json() if r["workflowName"] == "nightly"],
            timeout=10,
        )
        time.sleep(0.5)
    finally:
        for scheduler in schedulers:
            scheduler.stop()
        for thread in threads:
            thread.join(10)
        for scheduler in schedulers:
            scheduler.db.close()

    runs = [r for r in client.get("/workflows/runs").get_json() if r["workflowName"] == "nightly"]
    assert len(runs) == 1 and runs[0]["triggerType"] == "CRON"
    done = wait_run(client, runs[0]["id"])
    assert done["status"] == "COMPLETED"
    assert done["output"]["type"] == "WORKFLOW" and done["output"]["runId"] == runs[0]["id"]


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
