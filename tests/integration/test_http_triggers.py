"""HTTP-triggered functions at /http/{tenant}/{httpPath}: mapping, routing, errors, auth, isolation."""

from __future__ import annotations

from tests.integration.api_fixtures import api
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import expect_error, running_api, wait_compiled

ECHO = "function handle(input) { return input; }"
SHAPED = (
    "function handle(input) { return {status: 201, headers: {'x-answer': '42', 'Connection': 'close'},"
    " body: input.query.as === 'json' ? {ok: true} : 'hello ' + (input.query.name || 'you')}; }"
)

__all__ = ["api"]  # fixture used below


def bind(client, path, source=ECHO, *, methods=None, auth=None, limits=None, headers=None, expect=201):
    body = {
        "name": f"h{abs(hash((path, source))) % 10**8}",
        "language": "javascript",
        "source": source,
        "type": "HTTP",
        "httpPath": path,
    }
    if methods:
        body["httpMethods"] = methods
    if auth:
        body["httpAuth"] = auth
    if limits:
        body["resourceLimits"] = limits
    resp = client.post("/functions", json=body, headers=headers or {})
    assert resp.status_code == expect, resp.get_json()
    if expect != 201:
        return resp.get_json()
    fid = resp.get_json()["id"]
    if headers:
        done = wait_for(
            lambda: (
                (fn := client.get(f"/functions/{fid}", headers=headers).get_json())["status"]
                not in ("PENDING", "COMPILING")
                and fn
            ),
            timeout=60,
        )
        assert done["status"] == "READY"
    else:
        assert wait_compiled(client, [fid], timeout=60)[fid]["status"] == "READY"
    return fid


def test_get_and_post_reach_the_function_as_input(api):
    client = api.test_client()
    bind(client, "/echo")

    got = client.get("/http/default/echo?x=1&x=2&y=z", headers={"X-Custom": "v"})
    posted = client.post("/http/default/echo", json={"a": [1, 2]})
    text = client.post("/http/default/echo", data="plain words", content_type="text/plain")

    assert got.status_code == 200 and got.content_type == "application/json"
    seen = got.get_json()
    assert (
        seen["method"] == "GET" and seen["path"] == "/echo" and seen["query"] == {"x": ["1", "2"], "y": "z"}
    )
    assert seen["headers"]["x-custom"] == "v" and "host" not in seen["headers"] and seen["body"] is None
    assert posted.get_json()["body"] == {"a": [1, 2]}
    assert text.get_json()["body"] == "plain words"
    execution = client.get(f"/executions/{got.headers['X-Pnil-Execution-Id']}").get_json()
    assert execution["triggerType"] == "HTTP" and execution["triggerData"]["method"] == "GET"


def test_an_output_with_status_headers_body_becomes_the_response(api):
    client = api.test_client()
    bind(client, "/shaped", SHAPED)

    text = client.get("/http/default/shaped?name=Ada")
    obj = client.get("/http/default/shaped?as=json")

    assert text.status_code == 201 and text.get_data(as_text=True) == "hello Ada"
    assert text.content_type.startswith("text/plain") and text.headers["x-answer"] == "42"
    assert text.headers.get("Connection") != "close"  # hop-by-hop headers never pass
    assert obj.status_code == 201 and obj.get_json() == {"ok": True}


def test_parameters_wildcards_and_exact_paths(api):
    client = api.test_client()
    bind(client, "/users/{id}")
    bind(client, "/users/me", "function handle(i) { return 'me'; }")
    bind(client, "/static/*")

    assert client.get("/http/default/users/42").get_json()["params"] == {"id": "42"}
    assert client.get("/http/default/users/me").get_json() == "me"
    assert client.get("/http/default/static/css/site.css").get_json()["params"] == {"*": "css/site.css"}


def test_overlapping_bindings_are_409_and_disjoint_methods_are_not(api):
    client = api.test_client()
    bind(client, "/orders/{id}", methods=["GET"])
    clash = bind(client, "/orders/{orderId}", methods=["GET", "POST"], expect=409)
    assert "overlaps" in clash["message"]
    bind(client, "/orders/{orderId}", "function handle(i) { return 'post'; }", methods=["POST"])
    assert client.post("/http/default/orders/7").get_json() == "post"


def test_errors_are_json_with_the_right_status(api):
    client = api.test_client()
    bind(client, "/only-post", methods=["POST"])
    failing = bind(client, "/fails", "function handle(i) { throw new Error('boom'); }")
    bind(client, "/slow", "function handle(i) { while (true) {} }", limits={"maxExecutionTimeMs": 300})
    bind(client, "/bad-status", "function handle(i) { return {status: 9000, body: 'x'}; }")

    expect_error(client.get("/http/default/nothing-here"), 404)
    expect_error(client.get("/http/no-such-tenant/echo"), 404)
    not_allowed = client.get("/http/default/only-post")
    expect_error(not_allowed, 405)
    assert not_allowed.headers["Allow"] == "POST"
    failed = client.get("/http/default/fails")
    assert failed.headers["X-Pnil-Execution-Id"]
    assert expect_error(failed, 502)["executionId"] == failed.headers["X-Pnil-Execution-Id"]
    expect_error(client.get("/http/default/slow"), 504)
    expect_error(client.get("/http/default/bad-status"), 502)
    client.put(f"/functions/{failing}", json={"state": "PAUSED"})
    paused = client.get("/http/default/fails")
    assert expect_error(paused, 503)["message"] == "this endpoint is unavailable"
    assert paused.headers["Retry-After"]


def test_public_answers_reveal_nothing_internal_unless_the_function_opts_in(api):
    client = api.test_client()
    source = "function handle(i) { throw new Error('db down at 10.0.0.7'); }"
    failing = bind(client, "/leaky", source)
    bind(client, "/leaky-shape", "function handle(i) { return {status: 9000, body: 'x'}; }")

    failed = client.get("/http/default/leaky")
    body = expect_error(failed, 502)
    text = failed.get_data(as_text=True)
    assert "db down" not in text and "handle" not in text and "<input>" not in text
    assert set(body) == {"code", "status", "message", "executionId"}
    # The owner finds the details in the execution.
    execution = client.get(f"/executions/{body['executionId']}").get_json()
    assert "db down at 10.0.0.7" in execution["errorMessage"]
    assert "9000" not in client.get("/http/default/leaky-shape").get_data(as_text=True)

    client.post(f"/functions/{failing}/state", json={"state": "PAUSED"})
    paused = client.get("/http/default/leaky").get_data(as_text=True)
    assert "PAUSED" not in paused and "/functions" not in paused and "state" not in paused

    # httpDetailedErrors: the owner opts into the details, for debugging.
    assert client.put(f"/functions/{failing}", json={"httpDetailedErrors": True}).status_code == 200
    assert "PAUSED" in expect_error(client.get("/http/default/leaky"), 503)["message"]
    client.post(f"/functions/{failing}/state", json={"state": "ACTIVE"})
    detailed = expect_error(client.get("/http/default/leaky"), 502)
    assert "db down at 10.0.0.7" in detailed["message"]
    assert client.get(f"/functions/{failing}").get_json()["httpDetailedErrors"] is True
    bad = client.put(f"/functions/{failing}", json={"httpDetailedErrors": "yes"})
    expect_error(bad, 400)


def test_http_auth_key_needs_a_key_of_the_functions_tenant(server_url, template_url):
    with running_api(server_url) as app:
        import psycopg

        from store import tenants

        with psycopg.connect(app.config["TEST_DATABASE_URL"], autocommit=True) as conn:
            key_a = tenants.create_key(conn, "acme", name="a")[1]
            key_b = tenants.create_key(conn, "globex", name="b")[1]
        client = app.test_client()
        bind(client, "/private", auth="key", headers={"Authorization": f"Bearer {key_a}"})

        expect_error(client.get("/http/acme/private"), 401)
        expect_error(client.get("/http/acme/private", headers={"Authorization": f"Bearer {key_b}"}), 401)
        ok = client.get("/http/acme/private", headers={"Authorization": f"Bearer {key_a}"})
        assert ok.status_code == 200 and "authorization" not in ok.get_json()["headers"]
        # Another tenant's path is not served under yours.
        expect_error(client.get("/http/globex/private"), 404)
        expect_error(client.get("/http/default/private"), 404)


def test_invalid_paths_are_400(api):
    client = api.test_client()
    resp = client.post(
        "/functions",
        json={"name": "x", "language": "javascript", "source": ECHO, "type": "HTTP", "httpPath": "/a/*/b"},
    )
    assert "httpPath" in str(expect_error(resp, 400))


def test_a_plain_object_with_a_status_word_is_json_and_pnil_keys_never_reach_the_function(api):
    from store.tenants import new_key

    client = api.test_client()
    bind(client, "/status-word", "function handle(i) { return {status: 'ok'}; }")
    bind(client, "/headers")

    word = client.get("/http/default/status-word")
    seen = client.get("/http/default/headers", headers={"Authorization": f"Bearer {new_key()}"}).get_json()
    own = client.get("/http/default/headers", headers={"Authorization": "Bearer github-token"}).get_json()

    assert word.status_code == 200 and word.get_json() == {"status": "ok"}
    assert "authorization" not in seen["headers"]
    assert own["headers"]["authorization"] == "Bearer github-token"  # the webhook's own scheme passes
