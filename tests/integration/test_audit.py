"""The audit log: who changed or ran what through the API, readable by admin keys only."""

from __future__ import annotations

from store import tenants
from tests.integration.execute_helpers import expect_error


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_writes_are_recorded_with_key_tenant_action_and_target(app, db):
    client = app.test_client()
    manage_id, manage = tenants.create_key(db, "acme", name="deployer")
    reader_id, reader = tenants.create_key(db, "acme", name="reader", scopes=["read"])
    admin = bearer(tenants.create_key(db, "ops", name="ops", admin=True)[1])
    body = {"name": "audited", "language": "javascript", "source": "function handle(i) { return i; }"}

    fn = client.post("/functions", json=body, headers=bearer(manage)).get_json()
    client.put(f"/functions/{fn['id']}", json={"description": "d"}, headers=bearer(manage))
    client.get(f"/functions/{fn['id']}", headers=bearer(manage))  # a read: not recorded
    expect_error(client.delete(f"/functions/{fn['id']}", headers=bearer(reader)), 403)
    client.delete(f"/functions/{fn['id']}", headers=bearer(manage))
    lines = client.get("/admin/audit?tenant=acme", headers=admin).get_json()

    assert [(line["action"], line["status"]) for line in lines] == [
        ("DELETE /functions/<fn:function_id>", 204),
        ("DELETE /functions/<fn:function_id>", 403),
        ("PUT /functions/<fn:function_id>", 200),
        ("POST /functions", 201),
    ]
    assert {line["target"] for line in lines} == {fn["id"]}
    assert [line["keyId"] for line in lines] == [
        str(manage_id),
        str(reader_id),
        str(manage_id),
        str(manage_id),
    ]
    assert {line["tenant"] for line in lines} == {"acme"}
    assert lines[0]["path"] == f"/functions/{fn['id']}"


def test_only_admin_keys_read_it_and_it_pages_back(app, db):
    client = app.test_client()
    manage = bearer(tenants.create_key(db, "acme", name="m")[1])
    admin = bearer(tenants.create_key(db, "ops", name="ops", admin=True)[1])
    for i in range(3):
        client.put(f"/kv/k{i}", json={"value": i}, headers=manage)

    expect_error(client.get("/admin/audit", headers=manage), 403)
    newest = client.get("/admin/audit?limit=2", headers=admin).get_json()
    older = client.get(f"/admin/audit?before={newest[-1]['id']}", headers=admin).get_json()

    assert [line["target"] for line in newest + older][:3] == ["k2", "k1", "k0"]
    expect_error(client.get("/admin/audit?limit=0", headers=admin), 400)


def test_anonymous_writes_are_recorded_without_a_key(client, app, db):
    admin = bearer(tenants.create_key(db, "ops", name="ops", admin=True)[1])
    client.put("/kv/anon", json={"value": 1})

    line = client.get("/admin/audit?tenant=default", headers=admin).get_json()[0]

    assert (line["keyId"], line["action"], line["target"]) == (None, "PUT /kv/<path:key>", "anon")
