"""Queued executions are taken in turns of their tenant: a backlog of one tenant does not hold up
another tenant's execution queued behind it."""

from __future__ import annotations

import uuid

import psycopg

from executions.enqueue import enqueue_execution
from store import tenants
from tests.integration.api_fixtures import fresh_api as api
from tests.integration.conftest import Processes, wait_for
from tests.integration.execute_helpers import ready_function, wait_compiled

ECHO = "function handle(input) { return input; }"
BACKLOG = 200

__all__ = ["api"]  # fixture used below


def _function_of(client, key: str) -> uuid.UUID:
    """A READY echo function of the key's tenant."""
    headers = {"Authorization": f"Bearer {key}"}
    body = {"name": "neighbour", "language": "javascript", "source": ECHO}
    created = client.post("/functions", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    fid = created.get_json()["id"]

    def ready():
        fn = client.get(f"/functions/{fid}", headers=headers).get_json()
        return fn if fn["status"] not in ("PENDING", "COMPILING") else None

    assert wait_for(ready, timeout=60)["status"] == "READY"
    return uuid.UUID(fid)


def test_another_tenants_execution_queued_behind_a_backlog_starts_in_the_first_turns(api):
    # Given tenant A's backlog of 200 queued executions, then one of tenant B queued behind it
    database_url = api.config["TEST_DATABASE_URL"]
    client = api.test_client()
    flooder = uuid.UUID(ready_function(client, "javascript", ECHO))
    wait_compiled(client, [str(flooder)])
    with psycopg.connect(database_url, autocommit=True) as conn:
        key_b = tenants.create_key(conn, "neighbour", name="b")[1]
    neighbour = _function_of(client, key_b)
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant_a = conn.execute("SELECT tenant_id FROM functions WHERE id = %s", (flooder,)).fetchone()[0]
        tenant_b = conn.execute("SELECT tenant_id FROM functions WHERE id = %s", (neighbour,)).fetchone()[0]
        with conn.transaction():
            for i in range(BACKLOG):
                enqueue_execution(
                    conn, tenant_id=tenant_a, function_id=flooder, input={"i": i}, trigger_type="API"
                )
            mine, _ = enqueue_execution(
                conn, tenant_id=tenant_b, function_id=neighbour, input={}, trigger_type="API"
            )

    # When one executor thread works through the queue
    workers = Processes(database_url)
    try:
        workers.worker("executions", "executor", "--concurrency", "1")
        with psycopg.connect(database_url, autocommit=True) as conn:

            def finished():
                row = conn.execute(
                    "SELECT status, started_at FROM executions WHERE id = %s", (mine["id"],)
                ).fetchone()
                return row if row[0] not in ("PENDING", "RUNNING") else None

            status, started_at = wait_for(finished, timeout=120)
            ahead = conn.execute(
                "SELECT count(*) FROM executions WHERE function_id = %s AND started_at < %s",
                (flooder, started_at),
            ).fetchone()[0]
    finally:
        workers.stop_all()

    # Expect B's execution to have started within the first reads of the queue, not
    # after A's 200 (first in, first out would start it last)
    assert status == "COMPLETED"
    assert ahead < 8
