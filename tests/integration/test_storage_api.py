"""GET /admin/storage and /metrics show what pnil holds and what the last prune removed."""

from __future__ import annotations

import psycopg
import pytest

from executions.housekeeping import prune
from infra.database import ForkSafePool
from infra.storage_bounds import Retention
from store import tenants
from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import expect_error, register

__all__ = ["api"]  # fixture used below


@pytest.fixture
def admin(api):
    """A test client with an admin key (anonymous access is never admin)."""
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        key = tenants.create_key(conn, "ops", name="test admin", admin=True)[1]
    admin_client = api.test_client()
    admin_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return admin_client


def test_storage_shows_rows_bytes_oldest_row_per_table_and_tenant_and_the_last_prune(api, client, admin):
    fid = register(client, "javascript", "function handle(input) { return input; }")
    url = api.config["TEST_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO executions (function_id, tenant_id, status, created_at) "
            "SELECT id, tenant_id, 'COMPLETED', now() - make_interval(days => d) "
            "FROM functions, generate_series(0, 2) d WHERE id = %s",
            (fid,),
        )
    db = ForkSafePool(url, max_size=1, name="test-prune")
    try:
        removed = prune(db, Retention())
    finally:
        db.close()

    body = admin.get("/admin/storage").get_json()

    tables = {t["table"]: t for t in body["tables"]}
    assert tables["executions"]["rows"] >= 3 and tables["executions"]["bytes"] > 0
    assert tables["executions"]["partitions"] > 1 and tables["executions"]["oldestRowAt"] is not None
    assert {"events", "functions", "kv_entries", "pgmq.q_executions"} <= set(tables)
    assert body["tenants"]["default"]["executions"]["rows"] >= 3
    assert body["lastPrune"]["removed"] == removed and body["lastPrune"]["finishedAt"]

    metrics = admin.get("/metrics").get_data(as_text=True)
    assert 'pnil_table_bytes{table="executions"}' in metrics
    assert 'pnil_last_prune_removed{kind="partitionsCreated"}' in metrics


def test_storage_is_for_operators_only(client):
    resp = client.get("/admin/storage", headers={"Authorization": "Bearer pnil_" + "x" * 43})
    expect_error(resp, 401)
