"""Secrets: write-only values per tenant, encrypted at rest, read by the functions that declare them,
and never shown again: every place an execution's data lands is checked with a function that leaks."""

from __future__ import annotations

import json
import logging
import uuid

import psycopg
import pytest

from infra.secretbox import new_key
from store import tenants
from tests.integration.execute_helpers import execute, expect_error, running_api, wait_compiled

KEY = new_key()
VALUE = "sk_live_" + uuid.uuid4().hex  # what must never come back
MARK = "[secret STRIPE_KEY]"

LEAKY_JS = """
function handle(input) {
  const s = pnil.secrets.get('STRIPE_KEY');
  console.log('the key is ' + s);
  pnil.kv.set('leak', {copy: s, nested: [s]});
  pnil.emit('leak.test', {s: s});
  if (input.fail) throw new Error('cannot charge with ' + s);
  return {echo: s, same: s.split('').reverse().join('') === input.reversed, length: s.length};
}
"""
LEAKY_PY = """
import pnil

def handle(input, context):
    s = pnil.secrets.get("STRIPE_KEY")
    print("the key is", s)
    try:
        pnil.secrets.get("NOT_DECLARED")
    except pnil.HostCallError as exc:
        refused = str(exc)
    if input.get("fail"):
        raise RuntimeError("cannot charge with " + s)
    return {"echo": s, "same": s[::-1] == input.get("reversed"), "refused": refused}
"""
AS_SOURCE = """
import { secrets } from "pnil";
export function handle(input: string): string {
  const s = secrets.get("STRIPE_KEY");
  const none = secrets.get("NOT_DECLARED");
  return '{"echo":"' + s! + '","length":' + s!.length.toString()
    + ',"undeclaredIsNull":' + (none == null ? "true" : "false") + "}";
}
"""


@pytest.fixture(scope="module")
def api(server_url, template_url):
    with running_api(server_url, secret_key=KEY) as app:
        yield app


@pytest.fixture(scope="module", autouse=True)
def stripe_key(api):
    """The tenant's secret every test of this module reads."""
    assert api.test_client().put("/secrets/STRIPE_KEY", json={"value": VALUE}).status_code == 200


def create(client, language: str, source: str, secrets: list[str], **extra) -> dict:
    body = {"name": f"s-{uuid.uuid4().hex[:8]}", "language": language, "source": source, "secrets": secrets}
    return client.post("/functions", json=body | extra)


def ready(client, language: str, source: str, secrets=("STRIPE_KEY",), **extra) -> str:
    resp = create(client, language, source, list(secrets), **extra)
    assert resp.status_code == 201, resp.get_json()
    fid = resp.get_json()["id"]
    fn = wait_compiled(client, [fid])[fid]
    assert fn["status"] == "READY", fn["compileError"]
    return fid


def test_values_are_write_only_versioned_and_listed_by_name(api, client):
    first = client.put("/secrets/API_TOKEN", json={"value": "v1-" + VALUE})
    second = client.put("/secrets/API_TOKEN", json={"value": "v2-" + VALUE})

    assert first.get_json()["version"] == 1 and second.get_json()["version"] == 2
    listed = client.get("/secrets").get_json()
    assert {s["name"]: s["version"] for s in listed}["API_TOKEN"] == 2
    assert set(listed[0]) == {"name", "version", "createdAt", "updatedAt"}
    for resp in (first, second, client.get("/secrets"), client.get("/secrets/API_TOKEN")):
        assert VALUE not in resp.get_data(as_text=True)
    assert client.delete("/secrets/API_TOKEN").status_code == 204
    expect_error(client.delete("/secrets/API_TOKEN"), 404)
    expect_error(client.get("/secrets/API_TOKEN"), 404)


def test_bad_names_and_values_are_400(client):
    expect_error(client.put("/secrets/1BAD", json={"value": "x"}), 400)
    expect_error(client.put("/secrets/OK", json={"value": ""}), 400)
    expect_error(client.put("/secrets/OK", json={"value": 42}), 400)
    expect_error(client.put("/secrets/OK", json={"value": "x", "extra": 1}), 400)


def test_stored_encrypted_under_the_key(api, client):
    with psycopg.connect(api.config["TEST_DATABASE_URL"]) as conn:
        (token,) = conn.execute("SELECT ciphertext FROM secrets WHERE name = 'STRIPE_KEY'").fetchone()
    assert VALUE.encode() not in bytes(token)
    from infra.secretbox import SecretBox

    assert SecretBox(KEY).decrypt(bytes(token)) == VALUE


def test_tenants_do_not_share_secrets(api, client):
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        other = {"Authorization": f"Bearer {tenants.create_key(conn, 'other', name='o')[1]}"}
    assert client.get("/secrets", headers=other).get_json() == []
    resp = client.post(
        "/functions",
        json={
            "name": "x",
            "language": "javascript",
            "source": "function handle(i) { return 1; }",
            "secrets": ["STRIPE_KEY"],
        },
        headers=other,
    )
    assert "unknown secret(s) STRIPE_KEY" in expect_error(resp, 400)["message"]


def test_a_function_may_declare_only_existing_secrets(client):
    unknown = create(client, "javascript", "function handle(i) { return 1; }", ["STRIPE_KEY", "NOPE"])
    assert "NOPE" in expect_error(unknown, 400)["message"]
    bad = create(client, "javascript", "function handle(i) { return 1; }", ["no spaces"])
    expect_error(bad, 400)
    ok = create(client, "javascript", "function handle(i) { return 1; }", ["STRIPE_KEY", "STRIPE_KEY"])
    assert ok.get_json()["secrets"] == ["STRIPE_KEY"]


def test_javascript_reads_a_declared_secret_and_an_undeclared_one_is_catchable(client):
    source = """
    function handle(input) {
      let refused = null;
      try { pnil.secrets.get('OTHER'); } catch (e) { refused = e.message; }
      return {same: pnil.secrets.get('STRIPE_KEY').split('').reverse().join('') === input.reversed, refused};
    }"""
    fid = ready(client, "javascript", source)

    out = execute(client, fid, {"reversed": VALUE[::-1]})

    assert out["status"] == "COMPLETED", out
    assert out["output"]["same"] is True
    assert "'OTHER' is not declared by this function" in out["output"]["refused"]


def test_a_leaking_function_leaves_the_value_nowhere(api, client, caplog):
    caplog.set_level(logging.INFO)
    fid = ready(client, "javascript", LEAKY_JS)
    ok = execute(client, fid, {"reversed": VALUE[::-1]})
    failed = execute(client, fid, {"fail": True})

    assert ok["status"] == "COMPLETED" and ok["output"]["same"] is True
    assert ok["output"]["echo"] == MARK and ok["output"]["length"] == len(VALUE)
    assert MARK in ok["logs"]
    assert failed["status"] == "FAILED" and MARK in failed["errorMessage"]
    assert client.get("/kv/leak").get_json()["value"] == {"copy": MARK, "nested": [MARK]}
    events = client.get("/events?limit=100").get_json()
    assert {"s": MARK} in [e["payload"] for e in events if e["type"] == "leak.test"]
    seen = [
        client.get(f"/executions/{ok['id']}"),
        client.get(f"/executions/{failed['id']}"),
        client.get(f"/functions/{fid}/executions"),
        client.get("/executions"),
        client.get("/events?limit=100"),
        client.get("/kv/leak"),
        client.get(f"/functions/{fid}"),
    ]
    for resp in seen:
        assert VALUE not in resp.get_data(as_text=True), resp.request.path
    with psycopg.connect(api.config["TEST_DATABASE_URL"]) as conn:
        for table in ("executions", "events", "kv_entries"):
            dump = conn.execute(f"SELECT coalesce(json_agg(t)::text, '') FROM {table} t").fetchone()[0]
            assert VALUE not in dump, table
    logged = "\n".join(f"{r.getMessage()} {getattr(r, '_fields', '')}" for r in caplog.records)
    assert "execution.failed" in logged and VALUE not in logged


def test_an_http_function_with_detailed_errors_shows_the_mark(client):
    source = "function handle(r) { throw new Error('cannot charge with ' + pnil.secrets.get('STRIPE_KEY')); }"
    ready(client, "javascript", source, type="HTTP", httpPath="/leak", httpDetailedErrors=True)

    resp = client.post("/http/default/leak")

    assert resp.status_code == 502 and MARK in resp.get_json()["message"]
    assert VALUE not in resp.get_data(as_text=True)


def test_metrics_never_show_a_value(api, client, make_admin):
    text = client.get("/metrics", headers=make_admin()).get_data(as_text=True)
    assert text and VALUE not in text


def test_python_reads_declared_secrets_and_an_undeclared_one_is_catchable(client):
    fid = ready(client, "python", LEAKY_PY)

    out = execute(client, fid, {"reversed": VALUE[::-1]})
    failed = execute(client, fid, {"fail": True})

    assert out["status"] == "COMPLETED", out
    assert out["output"]["same"] is True and out["output"]["echo"] == MARK
    assert "not declared by this function" in out["output"]["refused"]
    assert MARK in out["logs"] and VALUE not in json.dumps(out)
    assert failed["status"] == "FAILED" and MARK in failed["errorMessage"]
    assert VALUE not in failed["errorMessage"]


def test_assemblyscript_reads_declared_secrets_and_gets_null_for_undeclared(client):
    fid = ready(client, "assemblyscript", AS_SOURCE)

    out = execute(client, fid, {})

    assert out["status"] == "COMPLETED", out
    assert out["output"] == {"echo": MARK, "length": len(VALUE), "undeclaredIsNull": True}


def test_without_a_key_secrets_cannot_be_written(server_url, template_url):
    with running_api(server_url) as app:
        resp = app.test_client().put("/secrets/X", json={"value": "v"})
        assert "PNIL_SECRET_KEY is not set" in expect_error(resp, 503)["message"]


@pytest.fixture
def make_admin(api):
    def make() -> dict[str, str]:
        with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
            key = tenants.create_key(conn, "ops", name="admin", admin=True)[1]
        return {"Authorization": f"Bearer {key}"}

    return make
