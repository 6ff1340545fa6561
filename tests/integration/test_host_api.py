"""The host API from inside the sandbox: key-value store, outbound HTTP, events, the call budget."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from store import tenants
from tests.integration.api_fixtures import api
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import (
    execute,
    expect_error,
    ready_function,
    register,
    wait_compiled,
)

__all__ = ["api"]  # fixture used below

KV_JS = """
function handle(input) {
  const k = input.prefix;
  pnil.kv.set(k + 'a', {n: 1, s: 'zoë'});
  pnil.kv.set(k + 'b', [1, 2], {ttl: 60});
  const counted = [pnil.kv.increment(k + 'count'), pnil.kv.increment(k + 'count', 5)];
  return {
    a: pnil.kv.get(k + 'a'),
    missing: pnil.kv.get(k + 'nope'),
    counted,
    keys: pnil.kv.list(k),
    swapped: pnil.kv.compareAndSet(k + 'a', {n: 1, s: 'zoë'}, 'new'),
    stale: pnil.kv.compareAndSet(k + 'a', {n: 1}, 'newer'),
    created: pnil.kv.compareAndSet(k + 'c', undefined, true),
    after: pnil.kv.get(k + 'a'),
    deleted: [pnil.kv.delete(k + 'b'), pnil.kv.delete(k + 'b')],
  };
}
"""

KV_AS = """
import { kv } from "pnil";
export function handle(input: string): string {
  kv.set("as-key", input);
  const n = kv.increment("as-counter", 2);
  const back = kv.get("as-key");
  const none = kv.get("as-missing");
  return '{"back":' + (back == null ? "null" : back!) + ',"n":' + n.toString()
    + ',"none":' + (none == null ? "true" : "false") + ',"keys":' + kv.list("as-") + "}";
}
"""


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        data = json.dumps(
            {"method": self.command, "path": self.path, "body": body, "ua": self.headers.get("X-Test")}
        )
        payload = data.encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def _fn(client, language: str, source: str, **settings) -> str:
    body = {"name": f"h-{uuid.uuid4().hex[:8]}", "language": language, "source": source, **settings}
    resp = client.post("/functions", json=body)
    assert resp.status_code == 201, resp.get_json()
    fid = resp.get_json()["id"]
    fn = wait_compiled(client, [fid])[fid]
    assert fn["status"] == "READY", fn["compileError"]
    return fid


# -- key-value ---------------------------------------------------------------------------------


def test_javascript_uses_the_key_value_store(client):
    fid = ready_function(client, "javascript", KV_JS)
    prefix = f"p{uuid.uuid4().hex[:6]}/"

    run = execute(client, fid, {"prefix": prefix})

    assert run["status"] == "COMPLETED", run["errorMessage"]
    assert run["output"] == {
        "a": {"n": 1, "s": "zoë"},
        "missing": None,
        "counted": [1, 6],
        "keys": [prefix + "a", prefix + "b", prefix + "count"],
        "swapped": True,
        "stale": False,
        "created": True,
        "after": "new",
        "deleted": [True, False],
    }
    assert run["metrics"]["apiCallCount"] == 13 and run["metrics"]["databaseQueryCount"] == 13
    assert client.get(f"/kv/{prefix}count").get_json() == {"key": prefix + "count", "value": 6}


def test_assemblyscript_uses_the_key_value_store(client):
    fid = ready_function(client, "assemblyscript", KV_AS)

    first = execute(client, fid, {"x": [1, "two"]})
    second = execute(client, fid, {"x": 3})

    assert first["status"] == "COMPLETED", first["errorMessage"]
    assert first["output"]["back"] == {"x": [1, "two"]} and first["output"]["none"] is True
    assert (first["output"]["n"], second["output"]["n"]) == (2, 4)
    assert first["output"]["keys"] == ["as-counter", "as-key"]
    assert first["metrics"]["apiCallCount"] == 5


def test_the_rest_api_and_the_code_share_the_tenants_store(client):
    key = f"shared/{uuid.uuid4().hex[:6]}"
    assert client.put(f"/kv/{key}", json={"value": {"from": "rest"}}).status_code == 200
    fid = ready_function(client, "javascript", "function handle(i) { return pnil.kv.get(i.key); }")

    assert execute(client, fid, {"key": key})["output"] == {"from": "rest"}
    assert key in client.get("/kv?prefix=shared/").get_json()["keys"]
    assert client.delete(f"/kv/{key}").status_code == 204
    expect_error(client.get(f"/kv/{key}"), 404)
    expect_error(client.delete(f"/kv/{key}"), 404)
    expect_error(client.put(f"/kv/{'k' * 256}", json={"value": 1}), 400)
    expect_error(client.put(f"/kv/{key}", json={"value": 1, "ttl": -1}), 400)
    expect_error(client.put(f"/kv/{key}", json={"value": 1, "extra": 1}), 400)
    expect_error(client.put(f"/kv/{key}", json={}), 400)
    expect_error(client.get("/kv?limit=0"), 400)


def test_an_expired_entry_is_absent(client, api):
    key = f"ttl/{uuid.uuid4().hex[:6]}"
    client.put(f"/kv/{key}", json={"value": 1, "ttl": 60})
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("UPDATE kv_entries SET expires_at = now() - interval '1 second' WHERE key = %s", (key,))
    fid = ready_function(
        client, "javascript", "function handle(i) { return [pnil.kv.get(i.key), pnil.kv.increment(i.key)]; }"
    )

    assert execute(client, fid, {"key": key})["output"] == [None, 1]


def test_another_tenants_keys_are_invisible(client, api):
    key = f"secret-{uuid.uuid4().hex[:6]}"
    client.put(f"/kv/{key}", json={"value": "default tenant's"})
    with psycopg.connect(api.config["TEST_DATABASE_URL"], autocommit=True) as conn:
        other = tenants.create_key(conn, f"other{uuid.uuid4().hex[:6]}", name="t")[1]
    headers = {"Authorization": f"Bearer {other}"}

    expect_error(client.get(f"/kv/{key}", headers=headers), 404)
    assert key not in client.get("/kv", headers=headers).get_json()["keys"]
    resp = client.post(
        "/functions",
        json={
            "name": "peek",
            "language": "javascript",
            "source": "function handle(i) { return pnil.kv.get(i.k); }",
        },
        headers=headers,
    )
    fid = resp.get_json()["id"]
    wait_for(lambda: client.get(f"/functions/{fid}", headers=headers).get_json()["status"] == "READY", 60)
    run = client.post(f"/functions/{fid}/execute", json={"input": {"k": key}}, headers=headers).get_json()
    assert run["output"] is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("pnil.kv.set('k'.repeat(256), 1)", "key must be a string of 1 to 255 bytes"),
        ("pnil.kv.set('big', 'x'.repeat(1024 * 1024 + 1))", "the most a value may be is 1048576"),
        ("pnil.kv.set('k', 1, {ttl: -5})", "ttl must be a number"),
        ("pnil.kv.set('s', 'text'); pnil.kv.increment('s')", "is not an integer"),
        ("pnil.kv.get(42)", "key must be a string"),
        ("pnil.emit('not a type!', {})", "invalid event type"),
    ],
)
def test_a_refused_call_throws_an_error_the_code_can_catch(client, call, message):
    source = (
        f"function handle(i) {{ try {{ {call}; return 'no error'; }} "
        "catch (e) { return String(e.message); } }"
    )
    fid = ready_function(client, "javascript", source, {"maxMemoryBytes": 128 * 1024 * 1024})

    output = execute(client, fid)["output"]

    assert message in output, output


def test_an_assemblyscript_refused_call_fails_the_execution_with_the_reason(client):
    source = (
        'import { kv } from "pnil";\n'
        'export function handle(i: string): string { kv.set("k", "not json"); return i; }'
    )
    fid = ready_function(client, "assemblyscript", source)

    run = execute(client, fid)

    assert run["status"] == "FAILED" and "kv.set value is not JSON" in run["errorMessage"]


# -- the call budget ---------------------------------------------------------------------------


def test_max_api_calls_per_minute_holds_across_executions(client):
    source = """
    function handle(input) {
      let made = 0, refused = null;
      for (let i = 0; i < input.calls; i++) {
        try { pnil.kv.increment('budget-' + input.tag); made++; } catch (e) { refused = e.message; }
      }
      return {made, refused};
    }"""
    fid = ready_function(client, "javascript", source, {"maxApiCallsPerMinute": 5})
    tag = uuid.uuid4().hex[:6]

    first = execute(client, fid, {"calls": 3, "tag": tag})["output"]
    second = execute(client, fid, {"calls": 5, "tag": tag})

    assert first == {"made": 3, "refused": None}
    assert second["output"]["made"] == 2 and "maxApiCallsPerMinute (5)" in second["output"]["refused"]
    assert second["metrics"]["apiCallCount"] == 5  # refused calls count as calls made
    assert client.get(f"/kv/budget-{tag}").get_json()["value"] == 5


def test_kv_get_counts_against_the_budget_like_every_call(client):
    source = """
    function handle(input) {
      let seen = [], refused = null;
      for (let i = 0; i < 4; i++) {
        try { seen.push(pnil.kv.get(input.key)); } catch (e) { refused = e.message; }
      }
      return {seen, refused};
    }"""
    fid = ready_function(client, "javascript", source, {"maxApiCallsPerMinute": 3})
    key = f"counted-{uuid.uuid4().hex[:6]}"
    client.put(f"/kv/{key}", json={"value": {"n": 1}})

    run = execute(client, fid, {"key": key})

    assert run["output"]["seen"] == [{"n": 1}] * 3
    assert "maxApiCallsPerMinute (3)" in run["output"]["refused"]
    assert run["metrics"]["apiCallCount"] == 4 and run["metrics"]["databaseQueryCount"] == 3


# -- outbound HTTP -----------------------------------------------------------------------------

FETCH_JS = """
function handle(input) {
  const init = {method: 'POST', body: JSON.stringify({hi: 1}), headers: {'X-Test': 'pnil'}};
  const r = pnil.fetch(input.url, init);
  return {status: r.status, echo: JSON.parse(r.body), header: r.headers['x-echo']};
}
"""


def test_fetch_reaches_an_explicitly_allowed_local_host(client, echo_server):
    fid = _fn(client, "javascript", FETCH_JS, allowedHosts=[f"http://{echo_server}"])

    run = execute(client, fid, {"url": f"http://{echo_server}/hook?x=1"})

    assert run["status"] == "COMPLETED", run["errorMessage"]
    assert run["output"] == {
        "status": 201,
        "echo": {"method": "POST", "path": "/hook?x=1", "body": '{"hi":1}', "ua": "pnil"},
        "header": "yes",
    }


def test_the_promise_fetch_alias_works(client, echo_server):
    source = (
        "async function handle(i) { const r = await fetch(i.url); "
        "return [r.status, r.ok, (await r.json()).method]; }"
    )
    fid = _fn(client, "javascript", source, allowedHosts=[f"http://{echo_server}"])

    assert execute(client, fid, {"url": f"http://{echo_server}/"})["output"] == [201, True, "GET"]


@pytest.mark.parametrize(
    ("hosts", "url", "message"),
    [
        (["*:*"], "http://{echo}/", "non-public address"),
        (["*.example.com"], "http://{echo}/", "not in this function's allowedHosts"),
        ([], "http://{echo}/", "allowedHosts (none)"),
        (["localhost"], "http://localhost:1/", "not in this function's allowedHosts"),
        (["*"], "file:///etc/passwd", "only http and https"),
        (["*"], "http://169.254.169.254/latest/meta-data/", "non-public address"),
        (["*"], "http://[::1]:80/", "non-public address"),
    ],
)
def test_fetch_outside_the_allowed_hosts_or_to_private_addresses_is_refused(
    client, echo_server, hosts, url, message
):
    source = (
        "function handle(i) { try { pnil.fetch(i.url); return 'fetched'; } catch (e) { return e.message; } }"
    )
    fid = _fn(client, "javascript", source, allowedHosts=hosts)

    output = execute(client, fid, {"url": url.format(echo=echo_server)})["output"]

    assert message in output, output


def test_assemblyscript_fetches_too(client, echo_server):
    source = """
import { http } from "pnil";

export function handle(input: string): string {
  const r = http.fetch("http://ECHO/as", "POST", input);
  return '{"status":' + r.status.toString() + ',"echo":' + r.body + "}";
}""".replace("ECHO", echo_server)
    fid = _fn(client, "assemblyscript", source, allowedHosts=[f"http://{echo_server}"])

    run = execute(client, fid, {"n": 1})

    assert run["output"]["status"] == 201 and run["output"]["echo"]["body"] == '{"n":1}'


@pytest.mark.parametrize("pattern", ["http://", "exa mple.com", "*.*.com", "https://x.com/path", 42])
def test_an_invalid_allowed_host_pattern_is_400(client, pattern):
    resp = client.post(
        "/functions",
        json={
            "name": f"h-{uuid.uuid4().hex[:6]}",
            "language": "javascript",
            "source": "function handle(i) {}",
            "allowedHosts": [pattern],
        },
    )
    assert "allowedHosts" in json.dumps(expect_error(resp, 400))


# -- events ------------------------------------------------------------------------------------


def test_emit_publishes_an_event_of_the_tenant_from_the_execution(client):
    event_type = f"order.t{uuid.uuid4().hex[:6]}"
    fid = ready_function(
        client, "javascript", f"function handle(i) {{ pnil.emit('{event_type}', {{id: i.id}}); return 1; }}"
    )

    run = execute(client, fid, {"id": 7})

    events = client.get(f"/events?type={event_type}").get_json()
    assert [(e["payload"], e["sourceExecutionId"]) for e in events] == [({"id": 7}, run["id"])]


def test_a_host_call_at_the_top_level_fails_the_compile_with_the_reason(client):
    fid = register(client, "javascript", "pnil.kv.get('x');\nfunction handle(i) { return i; }")

    fn = wait_compiled(client, [fid])[fid]

    assert fn["status"] == "FAILED" and "host API is not available" in fn["compileError"]


# -- Python ------------------------------------------------------------------------------------

KV_PY = """
from pnil import kv

def handle(input, context):
    k = input["prefix"]
    kv.set(k + "a", {"n": 1, "s": "zoë"})
    kv.set(k + "b", [1, 2], ttl=60)
    counted = [kv.increment(k + "count"), kv.increment(k + "count", 5)]
    return {
        "a": kv.get(k + "a"),
        "missing": kv.get(k + "nope"),
        "counted": counted,
        "keys": kv.list(k),
        "swapped": kv.compare_and_set(k + "a", {"n": 1, "s": "zoë"}, "new"),
        "created": kv.compare_and_set(k + "c", value=True),
        "deleted": [kv.delete(k + "b"), kv.delete(k + "b")],
        "execution": context["executionId"],
    }
"""


def test_python_uses_the_key_value_store_and_sees_its_context(client):
    fid = _fn(client, "python", KV_PY)

    run = execute(client, fid, {"prefix": "py-"})

    assert run["status"] == "COMPLETED", run["errorMessage"]
    assert run["output"] == {
        "a": {"n": 1, "s": "zoë"},
        "missing": None,
        "counted": [1, 6],
        "keys": ["py-a", "py-b", "py-count"],
        "swapped": True,
        "created": True,
        "deleted": [True, False],
        "execution": run["id"],
    }
    assert client.get("/kv/py-a").get_json()["value"] == "new"


def test_python_fetches_an_allowed_host_and_is_refused_others(client, echo_server):
    source = (
        "from pnil import fetch, HostCallError\n"
        "def handle(input):\n"
        "    r = fetch(input['url'], method='POST', headers={'X-Test': 'py'}, body='hi')\n"
        "    try:\n"
        "        fetch('http://169.254.169.254/latest/meta-data/')\n"
        "    except HostCallError as exc:\n"
        "        refused = str(exc)\n"
        "    return [r.status, r.ok, r.json()['body'], r.json()['ua'], r.headers['x-echo'], refused]\n"
    )
    fid = _fn(client, "python", source, allowedHosts=[f"http://{echo_server}"])

    run = execute(client, fid, {"url": f"http://{echo_server}/py"})

    assert run["status"] == "COMPLETED", run["errorMessage"]
    status, ok, body, ua, echo, refused = run["output"]
    assert (status, ok, body, ua, echo) == (201, True, "hi", "py", "yes")
    assert "not in this function's allowedHosts" in refused


def test_python_emits_an_event_from_the_execution(client):
    event_type = f"py.t{uuid.uuid4().hex[:6]}"
    fid = _fn(
        client,
        "python",
        f"from pnil import emit\ndef handle(i):\n    return emit('{event_type}', {{'id': i['id']}})\n",
    )

    run = execute(client, fid, {"id": 9})

    events = client.get(f"/events?type={event_type}").get_json()
    assert [(e["id"], e["payload"], e["sourceExecutionId"]) for e in events] == [
        (run["output"], {"id": 9}, run["id"])
    ]


def test_a_python_host_call_at_the_top_level_fails_the_compile(client):
    fid = register(client, "python", "from pnil import kv\nkv.get('x')\ndef handle(i):\n    return i\n")

    fn = wait_compiled(client, [fid])[fid]

    assert fn["status"] == "FAILED" and "host API is not available" in fn["compileError"]
