"""Rolling upgrade: messages queued by the previous release (contract 1, stored in
tests/fixtures/contracts/v1) are consumed by this release's compiler and consumer processes."""

from __future__ import annotations

import json

from psycopg.types.json import Jsonb

from store import functions as store
from store.tenants import DEFAULT_TENANT_ID
from tests.conftest import PROJECT_ROOT
from tests.integration.conftest import wait_for

STORED = PROJECT_ROOT / "tests" / "fixtures" / "contracts" / "v1"


def a_function(db, name: str) -> dict:
    with db.transaction():
        return store.insert(
            db,
            DEFAULT_TENANT_ID,
            {"name": name, "language": "javascript", "source": "function handle(input) { return input; }"},
            actor="test",
            change_description=None,
        )


def queue_stored(db, queue: str, stored: str, function_id) -> None:
    """Queue a stored message of the previous contract, as the previous release wrote it."""
    text = (STORED / stored).read_text()
    text = text.replace("{functionId}", str(function_id)).replace("{tenantId}", str(DEFAULT_TENANT_ID))
    data = json.loads(text)
    assert "contract" not in data["message"]  # what contract 1 looked like
    db.execute("SELECT pgmq.send(%s, %s, %s)", (queue, Jsonb(data["message"]), Jsonb(data["headers"])))


def status(db, function_id) -> tuple[str, str | None]:
    return db.execute("SELECT status, compile_error FROM functions WHERE id = %s", (function_id,)).fetchone()


def test_jobs_and_results_of_the_previous_contract_are_consumed(db, processes):
    compiled, failed = a_function(db, "from-a-v1-job"), a_function(db, "from-a-v1-result")
    db.execute("DELETE FROM pgmq.q_compilation_jobs")  # only the stored messages are in the queues
    queue_stored(db, "compilation_jobs", "compilation_job.json", compiled["id"])
    queue_stored(db, "compilation_results", "compilation_result.json", failed["id"])

    processes.compile_pipeline()

    wait_for(lambda: status(db, compiled["id"])[0] == "READY", timeout=60)
    wait_for(lambda: status(db, failed["id"])[0] == "FAILED", timeout=60)
    assert status(db, failed["id"]) == ("FAILED", "stored by the previous release")
    dead = db.execute(
        "SELECT (SELECT count(*) FROM pgmq.a_compilation_jobs) "
        "+ (SELECT count(*) FROM pgmq.a_compilation_results)"
    ).fetchone()[0]
    assert dead == 0
