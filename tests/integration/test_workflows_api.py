"""Workflow runs through the API with a real executor: each node kind, nesting, output passing,
failure with onFailure, cancel, validation at submission."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.integration.api_fixtures import api
from tests.integration.conftest import Processes, wait_for
from tests.integration.execute_helpers import expect_error, register_compiled
from tests.integration.workflow_helpers import (
    fn,
    get_run,
    leaves,
    register_functions,
    run,
    step_executions,
    wait_run,
)

__all__ = ["api"]


pytestmark = pytest.mark.usefixtures("names", "executor")  # every test runs with them


@pytest.fixture(scope="module")
def db(api):
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def names(api):
    return register_functions(api.test_client(), "wf")


@pytest.fixture(scope="module")
def executor(api):
    procs = Processes(api.config["TEST_DATABASE_URL"])
    procs.env["PNIL_SWEEP_EVERY_S"] = "0.5"
    procs.worker("executions", "executor", "--concurrency", "4")
    yield procs
    procs.stop_all()


def test_a_chain_passes_each_output_to_the_next_step(client, names, db):
    started = run(client, {"chain": [fn(names["inc"]), fn(names["inc"]), fn(names["double"])]}, {"n": 1})
    assert started["status"] in ("PENDING", "RUNNING")

    done = wait_run(client, started["id"])

    assert done["status"] == "COMPLETED", done
    assert done["output"] == {"n": 6}
    assert done["input"] == {"n": 1}
    assert done["startedAt"] and done["completedAt"]
    steps = leaves(done["tree"])
    assert [s["path"] for s in steps] == ["/steps/chain/0", "/steps/chain/1", "/steps/chain/2"]
    assert all(s["status"] == "COMPLETED" and s["attempts"] == 1 and s["durationMs"] >= 0 for s in steps)
    second = client.get(f"/executions/{steps[1]['executionId']}").get_json()
    assert second["triggerType"] == "WORKFLOW"
    assert second["workflowRunId"] == done["id"] and second["stepPath"] == "/steps/chain/1"
    assert second["input"] == {"n": 2} and second["output"] == {"n": 3}
    assert step_executions(db, done["id"]) == {s["path"]: 1 for s in steps}


def test_a_step_context_names_the_run_and_the_step(client, names):
    done = wait_run(client, run(client, fn(names["ctx"]))["id"])

    assert done["output"] == {"type": "WORKFLOW", "runId": done["id"], "stepPath": "/steps", "depth": 0}


def test_a_group_runs_every_member_with_the_same_input_and_outputs_their_list_in_order(client, names):
    steps = {"group": [fn(names["slow"]), fn(names["inc"]), fn(names["double"])]}

    done = wait_run(client, run(client, steps, {"n": 3, "ms": 300})["id"])

    assert done["status"] == "COMPLETED", done
    assert done["output"] == [{"n": 3}, {"n": 4}, {"n": 6}]


def test_a_chord_hands_the_group_list_to_then(client, names, db):
    steps = {"chord": {"group": [fn(names["inc"])] * 5, "then": fn(names["sum"])}}

    done = wait_run(client, run(client, steps, {"n": 1})["id"])

    assert done["status"] == "COMPLETED", done
    assert done["output"] == {"n": 10}
    assert set(step_executions(db, done["id"]).values()) == {1}
    assert done["tree"]["then"]["status"] == "COMPLETED"


def test_nested_nodes_and_fixed_inputs(client, names):
    steps = {
        "chain": [
            {
                "group": [
                    {"chain": [fn(names["inc"]), fn(names["inc"])]},
                    fn(names["double"], input={"n": 10}),
                ]
            },
            fn(names["sum"]),
            {
                "chord": {
                    "group": [fn(names["inc"]), {"group": [fn(names["double"])]}],
                    "then": fn(names["record"]),
                }
            },
        ]
    }

    done = wait_run(client, run(client, steps, {"n": 1})["id"])

    # group: [1+1+1, fixed 10*2] -> sum 23 -> chord [24, [46]] -> record
    assert done["status"] == "COMPLETED", done
    assert done["output"] == {"seen": [{"n": 24}, [{"n": 46}]]}
    assert all(s["status"] == "COMPLETED" for s in leaves(done["tree"]))


def test_a_failed_step_fails_the_run_cancels_the_rest_and_queues_on_failure(client, names, db):
    steps = {"chain": [fn(names["inc"]), fn(names["fail"]), fn(names["inc"])]}

    started = run(client, steps, {"n": 1}, on_failure=fn(names["record"]))
    done = wait_run(client, started["id"])

    assert done["status"] == "FAILED"
    assert done["failedStep"] == "/steps/chain/1"
    assert "/steps/chain/1" in done["error"] and "step broke on purpose" in done["error"]
    statuses = [s["status"] for s in leaves(done["tree"])]
    assert statuses == ["COMPLETED", "FAILED", "CANCELLED"]
    assert "/steps/chain/2" not in step_executions(db, done["id"])  # never queued
    handler = wait_for(
        lambda: (t := get_run(client, done["id"])["onFailureTree"])["status"] == "COMPLETED" and t
    )
    seen = client.get(f"/executions/{handler['executionId']}").get_json()["output"]["seen"]
    assert seen["runId"] == done["id"] and seen["failedStep"] == "/steps/chain/1"
    assert "step broke on purpose" in seen["error"]
    assert get_run(client, done["id"])["status"] == "FAILED"


def test_a_failure_in_a_group_cancels_its_running_siblings(client, names, db):
    # The executor runs the messages one of its threads read together one after the other: the
    # failing step is queued later (after inc), so another thread runs it while slow runs; it
    # fails only once slow has said (a KV key) that it is running.
    flag = f"started-{uuid.uuid4().hex}"
    failing = {"chain": [fn(names["inc"]), fn(names["fail-after-flag"], input={"flag": flag})]}
    slow_step = fn(names["slow"], input={"ms": 15_000, "flag": flag})
    steps = {"chord": {"group": [failing, slow_step], "then": fn(names["sum"])}}

    done = wait_run(client, run(client, steps)["id"])
    assert done["status"] == "FAILED" and done["failedStep"] == "/steps/chord/group/0/chain/1"

    slow = wait_for(
        lambda: (
            (s := leaves(get_run(client, done["id"])["tree"])[2])["status"] not in ("PENDING", "RUNNING")
            and s
        ),
        timeout=10,
    )
    assert slow["status"] == "CANCELLED"
    assert slow["startedAt"] is not None  # it was running: stopped through the execution cancel
    assert "/steps/chord/then" not in step_executions(db, done["id"])


def test_cancel_stops_the_running_step_and_nothing_after_it_starts(client, names, db):
    steps = {"chain": [fn(names["slow"], input={"ms": 15_000}), fn(names["inc"])]}
    started = run(client, steps)
    wait_for(lambda: leaves(get_run(client, started["id"])["tree"])[0]["status"] == "RUNNING", timeout=20)

    resp = client.post(f"/workflows/runs/{started['id']}/cancel")

    assert resp.status_code == 200 and resp.get_json()["status"] == "CANCELLED"
    first = wait_for(
        lambda: (s := leaves(get_run(client, started["id"])["tree"])[0])["status"] == "CANCELLED" and s,
        timeout=10,
    )
    assert first["executionId"]
    assert step_executions(db, started["id"]) == {"/steps/chain/0": 1}
    expect_error(client.post(f"/workflows/runs/{started['id']}/cancel"), 409)


def test_cancelling_one_pending_step_cancels_its_run(client, names, db):
    steps = {"group": [fn(names["slow"], input={"ms": 15_000})] * 6}  # 4 run, 2 wait
    started = run(client, steps)
    pending = wait_for(
        lambda: [s for s in leaves(get_run(client, started["id"])["tree"]) if s["status"] == "PENDING"],
        timeout=20,
    )
    client.post(f"/executions/{pending[-1]['executionId']}/cancel")

    done = wait_run(client, started["id"])

    assert done["status"] == "CANCELLED" and done["failedStep"] == pending[-1]["path"]


def test_runs_are_listed_by_status_and_unknown_ones_are_404(client, names):
    done = wait_run(client, run(client, fn(names["inc"]))["id"])

    completed = client.get("/workflows/runs?status=COMPLETED").get_json()
    failed = client.get("/workflows/runs?status=FAILED").get_json()

    assert done["id"] in [r["id"] for r in completed]
    assert done["id"] not in [r["id"] for r in failed]
    expect_error(client.get("/workflows/runs?status=NOPE"), 400)
    expect_error(client.get("/workflows/runs/123e4567-e89b-12d3-a456-426614174000"), 404)
    expect_error(client.post("/workflows/runs/123e4567-e89b-12d3-a456-426614174000/cancel"), 404)


@pytest.mark.parametrize(
    ("steps", "pointer"),
    [
        ({"chain": []}, "/steps/chain"),
        ({"chain": [{"function": "inc"}, {"nope": 1}]}, "/steps/chain/1"),
        ({"group": [{"function": "inc", "input": [1]}]}, "/steps/group/0/input"),
        ({"chord": {"group": [{"function": "inc"}]}}, "/steps/chord"),
        ({"function": "inc", "extra": 1}, "/steps"),
        ("inc", "/steps"),
    ],
)
def test_malformed_nodes_are_400_with_a_pointer(client, names, steps, pointer):
    steps = _named(steps, names)

    data = expect_error(client.post("/workflows/runs", json={"steps": steps}), 400)

    assert data["errors"]["pointer"] == pointer, data


def _named(node, names):
    if isinstance(node, dict):
        return {k: (names.get(v, v) if k == "function" else _named(v, names)) for k, v in node.items()}
    if isinstance(node, list):
        return [_named(n, names) for n in node]
    return node


def test_depth_and_size_limits_are_400_at_the_offending_node(client, names):
    deep = fn(names["inc"])
    for _ in range(32):
        deep = {"chain": [deep]}
    data = expect_error(client.post("/workflows/runs", json={"steps": deep}), 400)
    assert data["errors"]["pointer"] == "/steps" + "/chain/0" * 32

    wide = {"group": [fn(names["inc"])] * 1001}
    data = expect_error(client.post("/workflows/runs", json={"steps": wide}), 400)
    assert data["errors"]["pointer"] == "/steps/group/1000"


def test_functions_unknown_of_another_tenant_or_not_runnable_are_refused_at_submission(
    client, names, make_key_for, db
):
    other = make_key_for("wf-other")
    resp = client.post(
        "/functions",
        json={"name": "theirs", "language": "javascript", "source": "function handle(i) { return i; }"},
        headers={"Authorization": f"Bearer {other}"},
    )
    theirs = resp.get_json()["id"]
    broken = register_compiled(
        client, "javascript", {"broken": ("function handle(", None)}, prefix="wf", failures=("broken",)
    )
    client.post(f"/functions/{names['double']}/state", json={"state": "PAUSED"})
    try:
        for ref, needle in [
            ("no-such-function", "not found"),
            (theirs, "not found"),
            (broken["broken"], "status FAILED"),
            (names["double"], "state PAUSED"),
        ]:
            steps = {"chain": [fn(names["inc"]), fn(ref)]}
            data = expect_error(client.post("/workflows/runs", json={"steps": steps}), 400)
            assert data["errors"]["pointer"] == "/steps/chain/1/function"
            assert needle in data["message"]
    finally:
        client.post(f"/functions/{names['double']}/state", json={"state": "ACTIVE"})
    assert db.execute("SELECT count(*) FROM workflow_runs WHERE status = 'PENDING'").fetchone()[0] == 0


@pytest.fixture
def make_key_for(api):
    from store import tenants

    def make(tenant: str) -> str:
        with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
            return tenants.create_key(conn, tenant, name=f"{tenant} test key")[1]

    return make
