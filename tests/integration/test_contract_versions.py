"""Rolling upgrade: messages queued by earlier releases (contracts 1 and 2, stored in
tests/fixtures/contracts/v1 and v2, with the version under its old name) are consumed by this
release's compiler and consumer processes."""

from __future__ import annotations

import json

import pytest
from psycopg.types.json import Jsonb

from store import functions as store
from store.tenants import DEFAULT_TENANT_ID
from tests.conftest import PROJECT_ROOT
from tests.integration.conftest import wait_for

STORED = PROJECT_ROOT / "tests" / "fixtures" / "contracts"


def a_function(db, name: str) -> dict:
    with db.transaction():
        return store.insert(
            db,
            DEFAULT_TENANT_ID,
            {"name": name, "language": "javascript", "source": "function handle(input) { return input; }"},
            actor="test",
            change_description=None,
        )


def queue_stored(db, queue: str, contract: int, stored: str, function_id) -> None:
    """Queue a stored message of an earlier contract, as the release of that contract wrote it."""
    text = (STORED / f"v{contract}" / stored).read_text()
    text = text.replace("{functionId}", str(function_id)).replace("{tenantId}", str(DEFAULT_TENANT_ID))
    data = json.loads(text)
    assert data["message"].get("contract", 1) == contract  # contract 1 had no field
    db.execute("SELECT pgmq.send(%s, %s, %s)", (queue, Jsonb(data["message"]), Jsonb(data["headers"])))


def status(db, function_id) -> tuple[str, str | None]:
    return db.execute("SELECT status, compile_error FROM functions WHERE id = %s", (function_id,)).fetchone()


@pytest.mark.parametrize("contract", [1, 2])
def test_jobs_and_results_of_earlier_contracts_are_consumed(db, processes, contract):
    compiled = a_function(db, f"from-a-v{contract}-job")
    failed = a_function(db, f"from-a-v{contract}-result")
    db.execute("DELETE FROM pgmq.q_compilation_jobs")  # only the stored messages are in the queues
    queue_stored(db, "compilation_jobs", contract, "compilation_job.json", compiled["id"])
    queue_stored(db, "compilation_results", contract, "compilation_result.json", failed["id"])

    processes.compile_pipeline()

    wait_for(lambda: status(db, compiled["id"])[0] == "READY", timeout=60)
    wait_for(lambda: status(db, failed["id"])[0] == "FAILED", timeout=60)
    assert status(db, failed["id"]) == ("FAILED", "stored by the previous release")
    dead = db.execute(
        "SELECT (SELECT count(*) FROM pgmq.a_compilation_jobs) "
        "+ (SELECT count(*) FROM pgmq.a_compilation_results)"
    ).fetchone()[0]
    assert dead == 0
