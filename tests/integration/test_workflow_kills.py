"""Kill -9 anywhere in a workflow run: every step runs at most once, none is skipped, a join fires
exactly once (or the run fails naming the lost step: steps are not run twice)."""

from __future__ import annotations

import os
import signal
import uuid

import psycopg
import pytest

from executions.sweep import sweep
from infra.database import ForkSafePool
from store import attempts
from store import executions as executions_store
from tests.integration.api_fixtures import api
from tests.integration.conftest import Processes, wait_for
from tests.integration.workflow_helpers import (
    FUNCTIONS,
    fn,
    get_run,
    leaves,
    register_functions,
    run,
    step_executions,
    wait_run,
)
from workflows import handover

__all__ = ["api"]

# One slot: an execution of it holding the slot keeps every step of it PENDING.
GATE = {"gate": (FUNCTIONS["slow"][0], {"maxConcurrentRuns": 1, "maxExecutionTimeMs": 20_000})}


pytestmark = pytest.mark.usefixtures("names")  # every test runs with them


@pytest.fixture(scope="module")
def db(api):
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def names(api):
    return register_functions(api.test_client(), "kill", GATE)


@pytest.fixture
def workers(api):
    procs = Processes(api.config["TEST_DATABASE_URL"])
    procs.env["PNIL_SWEEP_EVERY_S"] = "0.5"
    yield procs
    procs.stop_all()


def executor(workers: Processes, concurrency: int = 2):
    return workers.worker("executions", "executor", "--concurrency", str(concurrency))


def kill(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the executor and its runner subprocesses
    proc.wait()


def step_status(client, run_id: str) -> dict[str, str]:
    return {s["path"]: s["status"] for s in leaves(get_run(client, run_id)["tree"])}


def hold_gate(client, names) -> str:
    """A plain queued execution of the gate function that holds its only slot for 20 s."""
    resp = client.post(f"/functions/{names['gate']}/executions", json={"input": {"ms": 20_000}})
    blocker = resp.get_json()["id"]
    wait_for(lambda: client.get(f"/executions/{blocker}").get_json()["status"] == "RUNNING", timeout=20)
    return blocker


def test_executor_killed_mid_step_fails_the_run_at_that_step_and_runs_nothing_twice(
    client, names, workers, db
):
    victim = executor(workers)
    started = run(client, {"chain": [fn(names["slow"], input={"ms": 20_000}), fn(names["inc"])]})
    wait_for(lambda: step_status(client, started["id"])["/steps/chain/0"] == "RUNNING", timeout=20)

    kill(victim)
    executor(workers)  # a survivor: its sweep notices the freed slot
    done = wait_run(client, started["id"], timeout=30)

    assert done["status"] == "FAILED" and done["failedStep"] == "/steps/chain/0"
    assert "lost" in done["error"]
    assert step_executions(db, started["id"]) == {"/steps/chain/0": 1}
    assert step_status(client, started["id"])["/steps/chain/1"] == "CANCELLED"


def test_executor_killed_between_a_step_end_and_the_next_start_loses_no_step(client, names, workers, db):
    victim = executor(workers)
    blocker = hold_gate(client, names)
    started = run(client, {"chain": [fn(names["inc"]), fn(names["gate"]), fn(names["inc"])]}, {"n": 1})
    wait_for(
        lambda: (
            step_status(client, started["id"])
            == {
                "/steps/chain/0": "COMPLETED",
                "/steps/chain/1": "PENDING",
                "/steps/chain/2": "WAITING",
            }
        ),
        timeout=20,
    )

    kill(victim)  # the next step is queued but not started; the blocker is lost with the executor
    executor(workers)
    done = wait_run(client, started["id"], timeout=60)

    assert done["status"] == "COMPLETED", done
    assert done["output"] == {"n": 3}
    assert step_executions(db, started["id"]) == {
        "/steps/chain/0": 1,
        "/steps/chain/1": 1,
        "/steps/chain/2": 1,
    }
    # The blocker's slot came free with its dead connection; the sweep reports it lost.
    wait_for(lambda: client.get(f"/executions/{blocker}").get_json()["status"] == "FAILED", timeout=20)


def test_executor_killed_during_a_join_fires_then_exactly_once(client, names, workers, db):
    victim = executor(workers)
    hold_gate(client, names)
    members = [fn(names["inc"]), fn(names["gate"]), fn(names["inc"]), fn(names["gate"])]
    started = run(client, {"chord": {"group": members, "then": fn(names["sum"])}}, {"n": 1})
    wait_for(
        lambda: (
            [s for p, s in sorted(step_status(client, started["id"]).items()) if "/group/" in p]
            == ["COMPLETED", "PENDING", "COMPLETED", "PENDING"]
        ),
        timeout=20,
    )

    kill(victim)  # half the join counted down, the other half queued
    executor(workers)
    executor(workers)  # two survivors race for the remaining members
    done = wait_run(client, started["id"], timeout=60)

    assert done["status"] == "COMPLETED", done
    assert done["output"] == {"n": 2 + 1 + 2 + 1}
    counts = step_executions(db, started["id"])
    assert counts == {**{f"/steps/chord/group/{i}": 1 for i in range(4)}, "/steps/chord/then": 1}


def test_a_wide_chord_across_two_executors_joins_exactly_once(client, names, workers, db):
    executor(workers, concurrency=4)
    executor(workers, concurrency=4)
    steps = {"chord": {"group": [fn(names["inc"])] * 60, "then": fn(names["sum"])}}

    done = wait_run(client, run(client, steps, {"n": 0})["id"], timeout=120)

    assert done["status"] == "COMPLETED", done
    assert done["output"] == {"n": 60}
    counts = step_executions(db, done["id"])
    assert len(counts) == 61 and set(counts.values()) == {1}


def test_a_process_killed_inside_the_finishing_transaction_leaves_the_old_state(client, names, api, db):
    """No executor: the test records a member's end and its hand-over itself, and its connection
    dies (as a killed process's does) before the commit: neither the end nor the countdown stays."""
    started = run(client, {"chord": {"group": [fn(names["inc"])] * 2, "then": fn(names["sum"])}})
    run_id = uuid.UUID(started["id"])
    member = db.execute(
        "SELECT id FROM executions WHERE workflow_run_id = %s AND step_path = '/steps/chord/group/0'",
        (run_id,),
    ).fetchone()[0]
    url = api.config["TEST_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as victim:
        assert executions_store.start_queued(victim, member, None)["execution_id"] == member
        pid = victim.info.backend_pid
        with pytest.raises(psycopg.OperationalError):
            with victim.transaction():
                row = attempts.finish(
                    victim,
                    member,
                    status="COMPLETED",
                    output_json='{"n": 1}',
                    error_message=None,
                    logs=None,
                    metrics={"durationMs": 1.0},
                )
                handover.step_ended(victim, row)
                assert db.execute("SELECT joins FROM workflow_runs WHERE id = %s", (run_id,)).fetchone()[
                    0
                ] == {"/steps/chord/group": 2}  # not committed yet
                db.execute("SELECT pg_terminate_backend(%s)", (pid,))
                victim.execute("SELECT 1")

    joins, status = db.execute("SELECT joins, status FROM workflow_runs WHERE id = %s", (run_id,)).fetchone()
    assert joins == {"/steps/chord/group": 2} and status == "PENDING"
    assert db.execute("SELECT status FROM executions WHERE id = %s", (member,)).fetchone()[0] == "RUNNING"
    # The dead connection's slot is free: the sweep fails the member and hands over (the run fails).
    pool = ForkSafePool(url, max_size=1, name="test-sweep")
    try:
        assert sweep(pool) == 1
    finally:
        pool.close()
    done = get_run(client, started["id"])
    assert done["status"] == "FAILED" and done["failedStep"] == "/steps/chord/group/0"
    assert step_executions(db, started["id"]) == {"/steps/chord/group/0": 1, "/steps/chord/group/1": 1}
