"""The Python SDK against a real server: every method, error mapping, safe retries."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from pnil_client import (
    BadRequest,
    Client,
    CompileFailed,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
)

ADD = "function handle(input, context) { console.log('adding'); return {sum: input.a + input.b}; }"


@pytest.fixture(scope="module")
def client(server):
    with Client(server.url, server.key) as c:
        yield c


def _name() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}"


def test_create_wait_invoke_and_read_back(client):
    name = _name()
    created = client.create_function(name, "javascript", ADD, tags=["sdk"], metadata={"team": "a"})

    ready = client.wait_ready(name)
    run = client.invoke(name, {"a": 2, "b": 3})

    assert created.name == name and created.version == 1
    assert ready.status == "READY" and ready.tags == ["sdk"] and ready.metadata == {"team": "a"}
    assert (run.status, run.output, run.trigger_type) == ("COMPLETED", {"sum": 5}, "API")
    assert "adding" in run.logs and run.duration_ms is not None
    assert client.get_execution(run.id).output == {"sum": 5}
    assert [e.id for e in client.executions(name)] == [run.id]
    assert name in [f.name for f in client.list_functions(tag="sdk")]
    assert client.get_function(created.id).name == name  # by id as well as by name


def test_submit_returns_a_handle_whose_result_waits(client):
    name = _name()
    client.create_function(name, "javascript", ADD)
    client.wait_ready(name)

    handle = client.submit(name, {"a": 1, "b": 1}, idempotency_key=f"k-{name}")
    again = client.submit(name, {"a": 1, "b": 1}, idempotency_key=f"k-{name}")

    assert handle.result(timeout=60).output == {"sum": 2}
    assert again.id == handle.id  # the same key never runs it twice


def test_versions_diff_rollback_and_state(client):
    name = _name()
    client.create_function(name, "javascript", ADD)
    client.wait_ready(name)
    client.update_function(name, source="function handle(i) { return {v: 2}; }", changeDescription="v2")
    client.wait_ready(name)

    versions = client.versions(name)
    diff = client.diff(name, 1, 2)
    rolled = client.rollback(name, 1, "back")
    paused = client.set_state(name, "PAUSED")

    assert [(v.number, v.change_description) for v in versions] == [(2, "v2"), (1, "created")]
    assert client.version(name, 1).source == ADD
    assert "+function handle(i) { return {v: 2}; }" in diff
    assert (rolled.version, rolled.status) == (3, "READY")
    assert paused.state == "PAUSED"
    with pytest.raises(BadRequest) as refused:  # a paused function is not run
        client.invoke(name, {"a": 1, "b": 2})
    assert "PAUSED" in refused.value.message
    client.delete_function(name)
    with pytest.raises(NotFound):
        client.get_function(name)


def test_errors_carry_the_servers_code_and_message(server, client):
    name = _name()
    client.create_function(name, "javascript", ADD)
    with pytest.raises(Conflict) as clash:
        client.create_function(name, "javascript", ADD)
    with pytest.raises(BadRequest) as bad:
        client.create_function(_name(), "cobol", "x")
    with pytest.raises(Forbidden):
        client.queues()
    with pytest.raises(Unauthorized):
        Client(server.url, "pnil_not_a_key").list_functions()
    with pytest.raises(CompileFailed) as failed:
        broken = _name()
        client.create_function(broken, "javascript", "function handle(i) { return {")
        client.wait_ready(broken)

    assert clash.value.code == 409 and name in clash.value.message
    assert bad.value.status == 400 and bad.value.errors
    assert "line 1" in failed.value.errors


def test_admin_keys_and_queues(server):
    with Client(server.url, server.admin_key) as admin:
        key = admin.create_key(f"t{uuid.uuid4().hex[:6]}", name="ci")
        queues = {q.queue for q in admin.queues()}
        assert key.key and key.id in {k.id for k in admin.list_keys()}
        assert Client(server.url, key.key).list_functions() == []
        admin.revoke_key(key.id)
    assert "compilation_jobs" in queues
    with pytest.raises(Unauthorized):
        Client(server.url, key.key).list_functions()


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first two requests of each path, then 200 with `{"ok": true}`."""

    seen: dict[str, int] = {}
    keys: dict[str, list[str]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        count = self.seen[self.path] = self.seen.get(self.path, 0) + 1
        self.keys.setdefault(self.path, []).append(self.headers.get("Idempotency-Key"))
        status, body = (503, b'{"code": 503, "message": "busy"}') if count <= 2 else (200, b'{"id": "x"}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def flaky():
    _Flaky.seen = {}
    _Flaky.keys = {}
    httpd = HTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_only_safe_requests_are_retried(flaky):
    client = Client(flaky, backoff=0.01)

    assert client.get_execution("x").id == "x"  # GET: retried through two 503s
    assert client.submit("f", {}, idempotency_key="k").id == "x"  # keyed POST: retried
    assert client.invoke("g", {}).id == "x"  # sync execute: always keyed, so retried
    with pytest.raises(Unavailable):
        client.set_state("h", "PAUSED")  # not idempotent: never retried
    assert _Flaky.seen == {
        "/executions/x": 3,
        "/functions/f/executions": 3,
        "/functions/g/execute": 3,
        "/functions/h/state": 1,
    }
    assert len(set(_Flaky.keys["/functions/g/execute"])) == 1  # every retry carried the same key


def test_a_sync_execute_retried_after_a_lost_answer_runs_once(server, client):
    name = _name()
    source = (
        "function handle(i) { const n = pnil.kv.increment(i.counter); "
        "const end = Date.now() + 1500; while (Date.now() < end) {} return {n}; }"
    )
    client.create_function(name, "javascript", source)
    client.wait_ready(name)
    counter = f"runs-{name}"
    url = f"{server.url}/functions/{name}/execute"
    headers = {"Authorization": f"Bearer {server.key}", "Idempotency-Key": f"once-{name}"}

    with pytest.raises(requests.exceptions.ReadTimeout):  # the client gives up mid-run
        requests.post(url, json={"input": {"counter": counter}}, headers=headers, timeout=0.3)
    retried = requests.post(url, json={"input": {"counter": counter}}, headers=headers, timeout=30)
    other_input = requests.post(url, json={"input": {"counter": "x"}}, headers=headers, timeout=30)

    assert retried.status_code == 200 and retried.json()["output"] == {"n": 1}
    assert other_input.status_code == 409
    assert client.executions(name)[0].id == retried.json()["id"] and len(client.executions(name)) == 1


def test_an_unreachable_server_is_a_connection_error():
    with pytest.raises(ConnectionFailed, match="could not reach pnil"):
        Client("http://127.0.0.1:9", retries=0).list_functions()
