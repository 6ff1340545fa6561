"""Tenancy: every object belongs to a tenant, and no tenant can see or touch another's."""

from __future__ import annotations

import re

import psycopg
import pytest

from infra.settings import Settings
from store import tenants
from tests.integration.conftest import close_app
from web.app import create_app

ECHO = "export function handle(input: string): string { return input; }"
UUID_ARG = re.compile(r"<(?:uuid|fn):(\w+)>")  # fn: an id or, for functions, a name
OTHER_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")
IGNORED_METHODS = {"HEAD", "OPTIONS"}

# Bodies that pass validation on routes that take one, so that only scoping decides the answer.
# A new write endpoint whose schema rejects the default gets its body here.
BODIES = {
    "PUT": {"name": "hijacked", "source": 'export function handle(i: string): string { return "x"; }'},
    "POST": {"input": {}},
}
BODIES_BY_SUFFIX = {
    "/state": {"state": "PAUSED"},
    "/rollback": {"version": 1},
    "/executions": {"input": {}},
    "/versions": {"source": "function handle(i) { return i; }"},
}


def _id_routes() -> list[tuple[str, str]]:
    """(rule, method) for every route of the app that takes a UUID, read from its url_map."""
    app = create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/unused"))
    routes = []
    for rule in app.url_map.iter_rules():
        if UUID_ARG.search(rule.rule) and not rule.rule.startswith("/admin/"):  # admin: every tenant
            routes += [(rule.rule, m) for m in sorted(rule.methods - IGNORED_METHODS)]
    return routes


ID_ROUTES = _id_routes()


def _url(rule: str, ids: dict[str, str]) -> str:
    def fill(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        if converter in ("uuid", "fn"):
            return ids[name]
        return "1"  # version numbers and the like: A's first one

    return OTHER_ARG.sub(fill, rule)


def _body(rule: str, method: str) -> dict | None:
    if method in ("GET", "DELETE"):
        return None
    for suffix, body in BODIES_BY_SUFFIX.items():
        if rule.endswith(suffix):
            return body
    return BODIES[method]


@pytest.fixture
def secure_app(database_url):
    """The production configuration: anonymous access off."""
    app = create_app(Settings(database_url=database_url, allow_anonymous=False))
    yield app
    close_app(app)


@pytest.fixture
def call_as(secure_app):
    """Factory: a request to the secure app with a key."""
    client = secure_app.test_client()

    def call(method: str, url: str, key: str | None, json=None):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return client.open(url, method=method, headers=headers, json=json)

    return call


def expect_error(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
    assert resp.content_type.startswith("application/json")
    data = resp.get_json()
    assert data["code"] == status
    return data


def create_function(call_as, key: str, name: str = "f") -> dict:
    resp = call_as(
        "POST", "/functions", key, json={"name": name, "language": "assemblyscript", "source": ECHO}
    )
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def snapshot(db) -> dict:
    """Everything a request could change, as plain values."""
    return {
        table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        for table in ("functions", "function_versions", "executions", "events", "artifacts", "workflow_runs")
    } | {
        queue: db.execute(f"SELECT msg_id, message FROM pgmq.q_{queue} ORDER BY msg_id").fetchall()
        for queue in ("compilation_jobs", "executions", "events")
    }


def test_the_route_list_covers_the_functions_api():
    assert ("/functions/<fn:function_id>", "GET") in ID_ROUTES
    assert ("/functions/<fn:function_id>", "PUT") in ID_ROUTES
    assert ("/functions/<fn:function_id>", "DELETE") in ID_ROUTES
    assert ("/executions/<uuid:execution_id>", "GET") in ID_ROUTES


@pytest.mark.parametrize(("rule", "method"), ID_ROUTES, ids=[f"{m} {r}" for r, m in ID_ROUTES])
def test_another_tenants_object_is_404_and_unchanged(call_as, make_key, db, rule, method):
    # Given tenant A's READY function with an execution, and tenant B's own key
    key_a, key_b = make_key("tenant-a"), make_key("tenant-b")
    function = create_function(call_as, key_a)
    db.execute(
        "UPDATE functions SET status = 'READY', wasm_binary = '\\x0061736d01000000'::bytea WHERE id = %s",
        (function["id"],),
    )
    execution_id = db.execute(
        "INSERT INTO executions (function_id, tenant_id, status, input) "
        "SELECT id, tenant_id, 'COMPLETED', '{}'::jsonb FROM functions WHERE id = %s RETURNING id",
        (function["id"],),
    ).fetchone()[0]
    event_id = db.execute(
        "INSERT INTO events (tenant_id, type) SELECT tenant_id, 'a.thing' FROM functions "
        "WHERE id = %s RETURNING id",
        (function["id"],),
    ).fetchone()[0]
    run_id = db.execute(
        "INSERT INTO workflow_runs (tenant_id, steps, input) SELECT tenant_id, "
        "jsonb_build_object('function', id::text), '{}'::jsonb FROM functions WHERE id = %s RETURNING id",
        (function["id"],),
    ).fetchone()[0]
    ids = {
        "function_id": function["id"],
        "execution_id": str(execution_id),
        "event_id": str(event_id),
        "run_id": str(run_id),
    }
    unknown = [name for name in UUID_ARG.findall(rule) if name not in ids]
    assert not unknown, f"add an object of A for {unknown} to this test"
    url = _url(rule, ids)
    if method == "GET":
        assert call_as("GET", url, key_a).status_code == 200, "A must be able to read its own object"
    before = snapshot(db)

    # When B calls the endpoint with A's ids
    resp = call_as(method, url, key_b, json=_body(rule, method))

    # Then B gets a 404 that does not reveal the object, and nothing changed
    data = expect_error(resp, 404)
    assert "hijacked" not in str(data)
    assert snapshot(db) == before


def test_named_workflows_are_per_tenant(call_as, make_key):
    key_a, key_b = make_key("tenant-a"), make_key("tenant-b")
    function = create_function(call_as, key_a)
    resp = call_as("PUT", "/workflows/nightly", key_a, json={"steps": {"function": function["id"]}})
    assert resp.status_code == 201, resp.get_json()

    for method, url in [
        ("GET", "/workflows/nightly"),
        ("GET", "/workflows/nightly/versions"),
        ("POST", "/workflows/nightly/runs"),
        ("DELETE", "/workflows/nightly"),
    ]:
        expect_error(call_as(method, url, key_b, json={"input": {}} if method == "POST" else None), 404)
    # B's canvas cannot name A's function either (by id or by name)
    data = expect_error(
        call_as("POST", "/workflows/runs", key_b, json={"steps": {"function": function["id"]}}), 400
    )
    assert data["errors"] == {"pointer": "/steps/function"}
    assert call_as("GET", "/workflows/nightly", key_a).status_code == 200


def test_names_are_per_tenant_and_never_reach_another_tenant(call_as, make_key):
    key_a, key_b = make_key("tenant-a"), make_key("tenant-b")
    a = create_function(call_as, key_a, "shared-name")

    b = create_function(call_as, key_b, "shared-name")  # the same name is free in another tenant

    assert call_as("GET", "/functions/shared-name", key_a).get_json()["id"] == a["id"]
    assert call_as("GET", "/functions/shared-name", key_b).get_json()["id"] == b["id"]
    expect_error(call_as("GET", "/functions/only-a", key_b), 404)
    create_function(call_as, key_a, "only-a")
    expect_error(call_as("GET", "/functions/only-a", key_b), 404)
    expect_error(call_as("DELETE", "/functions/only-a", key_b), 404)
    assert call_as("GET", "/functions/only-a", key_a).status_code == 200


def test_keys_are_managed_over_rest_by_admins_only(call_as, make_key):
    admin, plain = make_key("ops", admin=True), make_key("tenant-a")

    created = call_as("POST", "/admin/keys", admin, json={"tenant": "tenant-new", "name": "ci"})
    listed = call_as("GET", "/admin/keys", admin).get_json()

    assert created.status_code == 201, created.get_json()
    new = created.get_json()
    assert new["tenant"] == "tenant-new" and new["key"] and not new["admin"]
    assert {"id": new["id"], "name": "ci"}.items() <= next(k for k in listed if k["id"] == new["id"]).items()
    assert all("key" not in k for k in listed)
    assert call_as("GET", "/functions", new["key"]).status_code == 200
    expect_error(call_as("GET", "/admin/keys", plain), 403)
    expect_error(call_as("POST", "/admin/keys", plain, json={"tenant": "x"}), 403)
    expect_error(call_as("DELETE", f"/admin/keys/{new['id']}", plain), 403)
    expect_error(call_as("POST", "/admin/keys", admin, json={"tenant": "Not A Slug"}), 400)
    expect_error(call_as("POST", "/admin/keys", admin, json={"tenant": "t", "extra": 1}), 400)
    assert call_as("DELETE", f"/admin/keys/{new['id']}", admin).status_code == 204
    expect_error(call_as("GET", "/functions", new["key"]), 401)
    expect_error(call_as("DELETE", f"/admin/keys/{new['id']}", admin), 404)


def test_lists_do_not_leak(call_as, make_key, secure_app, database_url):
    key_a, key_b = make_key("tenant-a"), make_key("tenant-b")
    a_ids = {create_function(call_as, key_a, f"a{i}")["id"] for i in range(2)}
    b_ids = {create_function(call_as, key_b, "b")["id"]}

    assert {f["id"] for f in call_as("GET", "/functions", key_a).get_json()} == a_ids
    assert {f["id"] for f in call_as("GET", "/functions", key_b).get_json()} == b_ids
    anonymous = create_app(Settings(database_url=database_url, allow_anonymous=True))
    try:
        assert anonymous.test_client().get("/functions").get_json() == []
    finally:
        anonymous.extensions["pnil.db"].close()


def test_a_second_key_of_the_same_tenant_sees_the_same_objects(call_as, make_key):
    first, second = make_key("tenant-a"), make_key("tenant-a")
    function = create_function(call_as, first)
    assert call_as("GET", f"/functions/{function['id']}", second).status_code == 200


def test_compilation_jobs_carry_the_tenant(call_as, make_key, db):
    key = make_key("tenant-a")
    function = create_function(call_as, key)
    tenant_id = db.execute("SELECT id FROM tenants WHERE slug = 'tenant-a'").fetchone()[0]

    (message,) = db.execute("SELECT message FROM pgmq.q_compilation_jobs").fetchone()

    assert message["tenantId"] == str(tenant_id)
    assert message["functionId"] == function["id"]


# -- authentication --------------------------------------------------------------------------


def test_missing_key_is_401_when_anonymous_is_off(call_as):
    resp = call_as("GET", "/functions", None)
    data = expect_error(resp, 401)
    assert "Bearer" in resp.headers["WWW-Authenticate"]
    assert "key" in data["message"]


def test_wrong_key_is_401(call_as, make_key):
    make_key("tenant-a")
    expect_error(call_as("GET", "/functions", tenants.new_key()), 401)
    expect_error(call_as("GET", "/functions", "not-even-shaped-like-a-key"), 401)


def test_wrong_key_is_401_even_when_anonymous_is_on(client):
    resp = client.get("/functions", headers={"Authorization": f"Bearer {tenants.new_key()}"})
    expect_error(resp, 401)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc", "bearer"])
def test_malformed_authorization_header_is_401(secure_app, make_key, header):
    make_key("tenant-a")
    resp = secure_app.test_client().get("/functions", headers={"Authorization": header})
    expect_error(resp, 401)


def test_revoked_key_is_401(call_as, make_key, db):
    key = make_key("tenant-a")
    assert call_as("GET", "/functions", key).status_code == 200
    key_id = db.execute("SELECT id FROM api_keys").fetchone()[0]
    assert tenants.revoke_key(db, key_id)

    expect_error(call_as("GET", "/functions", key), 401)
    expect_error(call_as("POST", "/functions", key, json={"name": "x"}), 401)


def test_health_and_docs_need_no_key(call_as):
    assert call_as("GET", "/health", None).status_code == 200
    assert call_as("GET", "/openapi.json", None).status_code == 200


def test_admin_queues_needs_an_admin_key(call_as, make_key):
    expect_error(call_as("GET", "/admin/queues", None), 401)
    expect_error(call_as("GET", "/admin/queues", make_key("tenant-a")), 403)

    resp = call_as("GET", "/admin/queues", make_key("ops", admin=True))

    assert resp.status_code == 200
    assert {q["queue"] for q in resp.get_json()} >= {"compilation_jobs", "compilation_results"}


def test_anonymous_local_access_is_never_admin(client):
    expect_error(client.get("/admin/queues"), 403)
    expect_error(client.post("/admin/keys", json={"tenant": "default", "admin": True}), 403)
    assert client.get("/whoami").get_json()["admin"] is False


def test_the_key_is_never_stored_in_plain_text(database_url, db):
    with psycopg.connect(database_url, autocommit=True) as conn:
        key_id, key = tenants.create_key(conn, "tenant-a", name="secret holder")
    secret = key.removeprefix(tenants.KEY_PREFIX)

    columns = [
        r[0]
        for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_keys'"
        )
    ]
    row = db.execute("SELECT * FROM api_keys WHERE id = %s", (key_id,)).fetchone()
    stored = " ".join(value.hex() if isinstance(value, bytes) else str(value) for value in row)

    assert len(columns) == len(row)
    assert secret not in stored
    assert secret.encode().hex() not in stored
    key_hash = db.execute("SELECT key_hash FROM api_keys WHERE id = %s", (key_id,)).fetchone()[0]
    assert bytes(key_hash) == tenants.hash_key(key)
    assert len(key) >= len(tenants.KEY_PREFIX) + 43  # at least 32 random bytes, URL-safe


def test_keys_are_distinct_and_url_safe():
    keys = {tenants.new_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(re.fullmatch(r"pnil_[A-Za-z0-9_-]{43}", k) for k in keys)


# -- createdBy -------------------------------------------------------------------------------


def test_created_by_records_the_acting_key(call_as, database_url, db):
    with psycopg.connect(database_url, autocommit=True) as conn:
        first_id, first = tenants.create_key(conn, "tenant-a", name="first")
        second_id, second = tenants.create_key(conn, "tenant-a", name="second")
    function = create_function(call_as, first)

    assert function["createdBy"] == f"key:{first_id}"
    resp = call_as("PUT", f"/functions/{function['id']}", second, json={"source": ECHO + "\n"})
    assert resp.status_code == 200

    versions = db.execute(
        "SELECT version, created_by FROM function_versions WHERE function_id = %s ORDER BY version",
        (function["id"],),
    ).fetchall()
    assert versions == [(1, f"key:{first_id}"), (2, f"key:{second_id}")]
    assert resp.get_json()["createdBy"] == f"key:{first_id}"


def test_anonymous_writes_belong_to_the_default_tenant(client, db):
    resp = client.post("/functions", json={"name": "f", "language": "assemblyscript", "source": ECHO})
    assert resp.get_json()["createdBy"] == "anonymous"
    tenant = db.execute("SELECT t.slug FROM functions f JOIN tenants t ON t.id = f.tenant_id").fetchone()
    assert tenant == ("default",)


def test_unknown_routes_and_methods_say_so_even_without_a_key(secure_app):
    client = secure_app.test_client()

    missing = client.get("/no/such/route")
    wrong_method = client.patch("/functions")

    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    assert wrong_method.status_code == 405 and wrong_method.get_json()["code"] == 405
    # A real route still needs a key.
    assert client.get("/functions").status_code == 401
