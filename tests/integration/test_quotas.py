"""Per-tenant quotas through the API: functions, key-value keys and bytes, queued executions."""

from __future__ import annotations

import psycopg
import pytest

from store import tenants
from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import execute, expect_error, ready_function, register

ECHO = "function handle(input) { return input; }"
KV_WRITER = (
    "function handle(input) {"
    " try { pnil.kv.set(input.key, input.value); return {stored: true}; }"
    " catch (e) { return {stored: false, error: String(e.message || e)}; } }"
)

__all__ = ["api"]  # fixture used below


@pytest.fixture
def admin(api):
    """A test client with an admin key (anonymous access is never admin)."""
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        key = tenants.create_key(conn, "ops", name="test admin", admin=True)[1]
    admin_client = api.test_client()
    admin_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return admin_client


@pytest.fixture
def quota(admin):
    """Set the default tenant's own quotas for one test; back to the server's afterwards."""
    set_fields = []

    def set_quota(**values):
        set_fields.extend(values)
        resp = admin.put("/admin/tenants/default", json=values)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    yield set_quota
    admin.put("/admin/tenants/default", json=dict.fromkeys(set_fields))


def functions_held(client) -> int:
    return len(client.get("/functions?limit=1000").get_json())


def test_a_function_past_max_functions_is_403_until_one_is_deleted(client, quota):
    quota(maxFunctions=functions_held(client) + 1)
    fid = register(client, "javascript", ECHO)

    refused = client.post(
        "/functions", json={"name": "one-too-many", "language": "javascript", "source": ECHO}
    )

    error = expect_error(refused, 403)
    assert "maxFunctions" in error["message"] and error["errors"]["quota"] == "maxFunctions"
    assert client.delete(f"/functions/{fid}").status_code == 204
    assert (
        client.post(
            "/functions", json={"name": "one-too-many", "language": "javascript", "source": ECHO}
        ).status_code
        == 201
    )


def test_kv_keys_past_max_kv_keys_are_403_and_replacing_a_value_is_not_a_new_key(client, quota):
    quota(maxKvKeys=2)
    assert client.put("/kv/q-a", json={"value": 1}).status_code == 200
    assert client.put("/kv/q-b", json={"value": 2}).status_code == 200

    error = expect_error(client.put("/kv/q-c", json={"value": 3}), 403)

    assert error["errors"] == {"quota": "maxKvKeys", "limit": 2}
    assert client.put("/kv/q-a", json={"value": "replaced"}).status_code == 200
    assert client.delete("/kv/q-b").status_code == 204
    assert client.put("/kv/q-c", json={"value": 3}).status_code == 200
    for key in ("q-a", "q-c"):
        client.delete(f"/kv/{key}")


def test_kv_bytes_past_max_kv_bytes_are_403(client, quota):
    quota(maxKvBytes=100)
    assert client.put("/kv/b-small", json={"value": "x" * 40}).status_code == 200

    error = expect_error(client.put("/kv/b-big", json={"value": "y" * 80}), 403)

    assert "maxKvBytes" in error["message"]
    assert client.get("/kv/b-big").status_code == 404
    client.delete("/kv/b-small")
    assert client.put("/kv/b-big", json={"value": "y" * 80}).status_code == 200
    client.delete("/kv/b-big")


def test_a_function_past_the_kv_quota_gets_a_catchable_error(client, quota):
    fid = ready_function(client, "javascript", KV_WRITER)
    quota(maxKvKeys=0)

    result = execute(client, fid, {"key": "from-guest", "value": 1})

    assert result["output"]["stored"] is False and "maxKvKeys" in result["output"]["error"]
    assert client.get("/kv/from-guest").status_code == 404


def test_an_enqueue_past_max_pending_executions_is_429_with_retry_after(client, quota):
    fid = ready_function(client, "javascript", ECHO)  # no executor runs here: they stay PENDING
    quota(maxPendingExecutions=2)  # the only test of this module that queues
    first = client.post(f"/functions/{fid}/executions", json={"input": {}}, headers={"Idempotency-Key": "q1"})
    assert first.status_code == 202
    assert client.post(f"/functions/{fid}/executions", json={"input": {}}).status_code == 202

    refused = client.post(f"/functions/{fid}/executions", json={"input": {}})

    error = expect_error(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0 and "maxPendingExecutions" in error["message"]
    repeat = client.post(
        f"/functions/{fid}/executions", json={"input": {}}, headers={"Idempotency-Key": "q1"}
    )
    assert repeat.status_code == 200 and repeat.get_json()["id"] == first.get_json()["id"]
    assert client.post(f"/executions/{first.get_json()['id']}/cancel").status_code == 200
    assert client.post(f"/functions/{fid}/executions", json={"input": {}}).status_code == 202


def test_tenant_settings_show_what_is_in_force_and_null_returns_to_the_server_setting(admin):
    resp = admin.put("/admin/tenants/quota-team", json={"executionRetentionDays": 90, "maxFunctions": 5})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["name"] == "quota-team" and body["executionRetentionDays"] == 90
    assert body["effective"]["executionRetentionDays"] == 90 and body["effective"]["eventRetentionDays"] == 7
    assert body["effective"]["maxPendingExecutions"] == 10_000

    reset = admin.put("/admin/tenants/quota-team", json={"executionRetentionDays": None}).get_json()

    assert reset["executionRetentionDays"] is None and reset["effective"]["executionRetentionDays"] == 30
    assert reset["maxFunctions"] == 5
    expect_error(admin.put("/admin/tenants/quota-team", json={"maxFunctions": -1}), 400)
    expect_error(admin.put("/admin/tenants/quota-team", json={"executionRetentionDays": 0}), 400)
    expect_error(admin.put("/admin/tenants/quota-team", json={"retention": 3}), 400)
    expect_error(admin.put("/admin/tenants/Not A Name", json={}), 400)
    expect_error(admin.get("/admin/tenants/nobody"), 404)
    expect_error(admin.put("/admin/tenants/quota-team"), 400)
    expect_error(admin.put("/admin/tenants/quota-team", json={"maxKvKeys": 2.5}), 400)
    expect_error(admin.put("/admin/tenants/quota-team", json={"maxKvKeys": "5"}), 400)
