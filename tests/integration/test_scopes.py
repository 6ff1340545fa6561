"""The scope matrix: every route of the app (from its url_map) sent with a key of every scope.

The expectations are written here, independently of web/scopes.py: admin reaches everything;
manage everything but /admin and /metrics; read only GETs (not /admin, /metrics); invoke only
runs, queues, reads and cancels executions; every key may ask /whoami. Allowed is "not 401/403"
(the route may still refuse the sample request for its own reasons); refused is a JSON 403.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from store import tenants
from tests.integration.execute_helpers import expect_error

PUBLIC = re.compile(r"^/($|health$|openapi\.json$|favicon\.ico$|docs|console|static|http/)")
INVOKE_CALLS = {
    ("POST", "/functions/<fn:function_id>/execute"),
    ("POST", "/functions/<fn:function_id>/executions"),
    ("GET", "/functions/<fn:function_id>/executions"),
    ("GET", "/executions/<uuid:execution_id>"),
    ("POST", "/executions/<uuid:execution_id>/cancel"),
}
SCOPES = ("admin", "manage", "invoke", "read")


def expected_allowed(scope: str, method: str, rule: str) -> bool:
    if rule == "/whoami" or scope == "admin":
        return True
    if rule.startswith("/admin/") or rule == "/metrics":
        return False
    if scope == "manage":
        return True
    if scope == "read":
        return method == "GET"
    return (method, rule) in INVOKE_CALLS


def routes(app) -> list[tuple[str, str]]:
    """(method, rule) of every authenticated route, DELETEs last (they remove the sample objects)."""
    found = [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if not PUBLIC.match(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    return sorted(found, key=lambda mr: (mr[0] == "DELETE", mr[1], mr[0]))


def sample_url(rule: str, ids: dict[str, str]) -> str:
    values = {
        "function_id": ids["function"],
        "execution_id": ids["execution"],
        "key_id": ids["key"],
        "event_id": str(uuid.uuid4()),
        "run_id": str(uuid.uuid4()),
        "number": "1",
        "a": "1",
        "b": "1",
        "name": "SAMPLE",
        "key": "sample-key",
    }
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)


BODIES = {
    "/functions": {"name": "x", "language": "javascript", "source": "function handle(i) { return i; }"},
    "/events": {"type": "sample.event", "payload": {}},
    "/admin/keys": {"tenant": "scoped"},
    "/secrets/<string:name>": {"value": "v"},
    "/kv/<path:key>": {"value": 1},
    "/functions/<fn:function_id>/state": {"state": "PAUSED"},
    "/functions/<fn:function_id>/rollback": {"version": 1},
}


def objects(db) -> dict[str, str]:
    """A function, one of its executions and a spare key of tenant `scoped`."""
    tenant_id = tenants.ensure_tenant(db, "scoped")
    function_id = db.execute(
        "INSERT INTO functions (tenant_id, name, language, source) VALUES (%s, %s, 'javascript', "
        "'function handle(i) { return i; }') RETURNING id",
        (tenant_id, f"f-{uuid.uuid4().hex[:8]}"),
    ).fetchone()[0]
    execution_id = db.execute(
        "INSERT INTO executions (function_id, tenant_id, status, input) VALUES (%s, %s, 'COMPLETED', '{}') "
        "RETURNING id",
        (function_id, tenant_id),
    ).fetchone()[0]
    spare = tenants.create_key(db, "scoped", name="spare")[0]
    return {"function": str(function_id), "execution": str(execution_id), "key": str(spare)}


def send(client, method: str, rule: str, ids: dict[str, str], key: str):
    return client.open(
        sample_url(rule, ids),
        method=method,
        json=BODIES.get(rule, {}) if method in ("POST", "PUT") else None,
        headers={"Authorization": f"Bearer {key}"},
    )


@pytest.mark.parametrize("scope", SCOPES)
def test_every_route_with_every_scope(app, db, scope):
    client = app.test_client()
    key = tenants.create_key(db, "scoped", name=scope, scopes=[scope])[1]
    ids = objects(db)
    checked = 0
    for method, rule in routes(app):
        resp = send(client, method, rule, ids, key)
        if expected_allowed(scope, method, rule):
            assert resp.status_code not in (401, 403), (scope, method, rule, resp.get_json())
        else:
            expect_error(resp, 403)
        checked += 1
    assert checked >= 30  # the url_map was read: every route of the API, not a hand-picked few


def test_an_invoke_key_limited_to_a_function_reaches_only_that_function(app, db):
    client = app.test_client()
    mine, other = objects(db), objects(db)
    key = tenants.create_key(
        db, "scoped", name="hook", scopes=["invoke"], function_ids=[uuid.UUID(mine["function"])]
    )[1]

    for method, rule in INVOKE_CALLS:
        assert send(client, method, rule, mine, key).status_code not in (401, 403), (method, rule)
        expect_error(send(client, method, rule, other, key), 403)
    expect_error(send(client, "GET", "/functions", mine, key), 403)


def test_keys_with_scopes_functions_and_expiry_over_http(app, db):
    client = app.test_client()
    admin = {"Authorization": f"Bearer {tenants.create_key(db, 'ops', name='a', admin=True)[1]}"}
    fn = objects(db)["function"]
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    made = client.post(
        "/admin/keys",
        json={"tenant": "scoped", "scopes": ["invoke"], "functions": [fn], "expiresAt": soon},
        headers=admin,
    )

    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["scopes"] == ["invoke"] and body["functions"] == [fn] and body["expiresAt"]
    who = client.get("/whoami", headers={"Authorization": f"Bearer {body['key']}"}).get_json()
    assert who["scopes"] == ["invoke"] and who["functions"] == [fn] and who["admin"] is False
    expect_error(
        client.post("/admin/keys", json={"tenant": "scoped", "scopes": ["root"]}, headers=admin), 400
    )
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    expect_error(client.post("/admin/keys", json={"tenant": "scoped", "expiresAt": past}, headers=admin), 400)
    limited_read = {"tenant": "scoped", "scopes": ["read"], "functions": [fn]}
    expect_error(client.post("/admin/keys", json=limited_read, headers=admin), 400)
    foreign = {"tenant": "ops", "scopes": ["invoke"], "functions": [fn]}
    expect_error(client.post("/admin/keys", json=foreign, headers=admin), 400)


def test_an_expired_key_is_refused(app, db):
    key = tenants.create_key(db, "scoped", name="old", expires_at=datetime.now(UTC) + timedelta(seconds=1))[1]
    db.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE name = 'old'")

    resp = app.test_client().get("/whoami", headers={"Authorization": f"Bearer {key}"})

    assert "expired" in expect_error(resp, 401)["message"]


def test_a_key_inserted_without_scopes_can_manage_as_keys_always_could(db):
    tenant_id = tenants.ensure_tenant(db, "scoped")
    db.execute(
        "INSERT INTO api_keys (tenant_id, name, key_hash) VALUES (%s, 'old style', %s)",
        (tenant_id, tenants.hash_key("pnil_" + "x" * 43)),
    )

    principal = tenants.authenticate(db, "pnil_" + "x" * 43)

    assert principal is not None and principal.scopes == {"manage"} and not principal.is_admin


def test_an_admin_key_inserted_without_scopes_stays_admin(db):
    tenant_id = tenants.ensure_tenant(db, "ops")
    db.execute(
        "INSERT INTO api_keys (tenant_id, name, key_hash, is_admin) VALUES (%s, 'old admin', %s, true)",
        (tenant_id, tenants.hash_key("pnil_" + "y" * 43)),
    )

    principal = tenants.authenticate(db, "pnil_" + "y" * 43)

    assert principal is not None and principal.is_admin and "admin" in principal.scopes
