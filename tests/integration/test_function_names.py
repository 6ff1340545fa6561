"""Managing functions as a team: names, filters, metadata and tags, reused artifacts, trigger context."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import (
    execute,
    expect_error,
    ready_function,
    register,
    wait_compiled,
)

__all__ = ["api"]  # fixture used below

JS_CONTEXT = "function handle(input, context) { return context; }"
AS_CONTEXT = """
import { context } from "pnil";
export function handle(input: string): string { return context(); }
"""


def _name() -> str:
    return f"fn-{uuid.uuid4().hex[:8]}"


def _create(client, **body):
    body = {"name": _name(), "language": "javascript", "source": "function handle(i) { return i; }"} | body
    return client.post("/functions", json=body)


# -- names -------------------------------------------------------------------------------------


def test_a_name_is_unique_per_tenant_and_the_clash_names_the_holder(client):
    name = _name()
    first = _create(client, name=name).get_json()

    clash = _create(client, name=name)
    other = _create(client).get_json()
    renamed = client.put(f"/functions/{other['id']}", json={"name": name})

    assert first["id"] in expect_error(clash, 409)["message"]
    assert first["id"] in expect_error(renamed, 409)["message"]
    assert client.put(f"/functions/{first['id']}", json={"name": name}).status_code == 200  # its own name


def test_every_function_route_accepts_the_name_for_the_id(client):
    name = _name()
    fid = register(client, "javascript", "function handle(i) { return {n: i.n + 1}; }", name=name)
    wait_compiled(client, [fid])

    assert client.get(f"/functions/{name}").get_json()["id"] == fid
    assert execute(client, name, {"n": 1})["output"] == {"n": 2}
    assert client.get(f"/functions/{name}/versions").get_json()[0]["number"] == 1
    assert client.get(f"/functions/{name}/executions").get_json()[0]["functionId"] == fid
    assert client.post(f"/functions/{name}/state", json={"state": "PAUSED"}).get_json()["state"] == "PAUSED"
    assert client.delete(f"/functions/{name}").status_code == 204
    expect_error(client.get(f"/functions/{name}"), 404)


@pytest.mark.parametrize(
    "name",
    ["a/b", "tab\there", " padded", "padded ", "", "x" * 201, "123e4567-e89b-12d3-a456-426614174000"],
)
def test_a_name_that_could_not_address_the_function_is_400(client, name):
    assert "name" in json.dumps(expect_error(_create(client, name=name), 400))


def test_a_malformed_id_or_unknown_name_is_a_json_404_that_says_what_an_id_is(client):
    assert "UUID" in expect_error(client.get("/executions/not-a-uuid"), 404)["message"]
    assert "not found" in expect_error(client.get(f"/functions/{_name()}"), 404)["message"]


# -- filters, metadata, tags -------------------------------------------------------------------


def test_list_filters_by_name_state_type_language_and_tags(client):
    marker = uuid.uuid4().hex[:8]
    a = _create(client, name=f"{marker}-alpha", tags=["billing", "eu"]).get_json()
    b = _create(client, name=f"{marker}-beta", tags=["billing"], type="SCHEDULED", cronExpression="0 * * * *")
    b = b.get_json()
    c = _create(
        client,
        name=f"{marker}-gamma",
        language="assemblyscript",
        source="export function handle(i: string): string { return i; }",
    ).get_json()
    client.post(f"/functions/{a['id']}/state", json={"state": "PAUSED"})

    def ids(query: str) -> set[str]:
        resp = client.get(f"/functions?name={marker}&{query}")
        assert resp.status_code == 200, resp.get_json()
        return {f["id"] for f in resp.get_json()}

    assert ids("") == {a["id"], b["id"], c["id"]}
    assert ids("tag=billing") == {a["id"], b["id"]}
    assert ids("tag=billing&tag=eu") == {a["id"]}
    assert ids("state=PAUSED") == {a["id"]}
    assert ids("type=SCHEDULED") == {b["id"]}
    assert ids("language=assemblyscript") == {c["id"]}
    assert client.get("/functions?name=%25_").get_json() == []  # LIKE wildcards are matched literally
    expect_error(client.get("/functions?state=SLEEPING"), 400)
    expect_error(client.get("/functions?language=cobol"), 400)


def test_metadata_and_tags_are_validated_stored_and_returned(client):
    created = _create(client, metadata={"team": "payments", "owner": "zoë"}, tags=["eu"]).get_json()

    updated = client.put(f"/functions/{created['id']}", json={"tags": ["eu", "beta"]}).get_json()

    assert created["metadata"] == {"team": "payments", "owner": "zoë"}
    assert updated["tags"] == ["eu", "beta"] and updated["metadata"] == created["metadata"]
    expect_error(_create(client, metadata={"n": 1}), 400)
    expect_error(_create(client, metadata={"k": "v" * 1001}), 400)
    expect_error(_create(client, metadata={f"k{i}": "v" for i in range(51)}), 400)
    expect_error(_create(client, tags="eu"), 400)
    expect_error(_create(client, tags=[f"t{i}" for i in range(51)]), 400)


# -- content-addressed artifacts ---------------------------------------------------------------


def test_source_that_compiled_before_is_ready_at_once_without_a_compile_job(api, client):
    source = f"function handle(i) {{ return {{tag: '{uuid.uuid4().hex}'}}; }}"
    first = ready_function(client, "javascript", source)

    again = _create(client, source=source)

    assert again.status_code == 201 and again.get_json()["status"] == "READY"
    assert execute(client, again.get_json()["id"])["output"] == execute(client, first)["output"]


def test_rollback_to_a_version_that_compiled_is_ready_at_once(client):
    good = f"function handle(i) {{ return {{v: '{uuid.uuid4().hex}'}}; }}"
    fid = ready_function(client, "javascript", good)
    expected = execute(client, fid)["output"]
    client.put(f"/functions/{fid}", json={"source": "function handle(i) { return {"})
    assert wait_compiled(client, [fid])[fid]["status"] == "FAILED"
    expect_error(client.post(f"/functions/{fid}/execute", json={"input": {}}), 400)

    rolled = client.post(f"/functions/{fid}/rollback", json={"version": 1, "changeDescription": "undo"})

    assert rolled.status_code == 200
    assert (rolled.get_json()["status"], rolled.get_json()["version"]) == ("READY", 3)
    run = execute(client, fid)
    assert (run["output"], run["functionVersion"]) == (expected, 3)


# -- trigger context ---------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "source"), [("javascript", JS_CONTEXT), ("assemblyscript", AS_CONTEXT)])
def test_the_code_receives_its_execution_context(client, language, source):
    fid = ready_function(client, language, source)

    run = execute(client, fid, {"x": 1})

    assert run["output"] == {
        "executionId": run["id"],
        "functionId": fid,
        "version": 1,
        "trigger": {"type": "API"},
        "attempt": 1,
        "maxAttempts": 1,
    }


def test_an_import_of_another_package_fails_to_compile_with_its_name(client):
    fid = register(
        client,
        "assemblyscript",
        'import { x } from "left-pad";\nexport function handle(i: string): string { return i; }',
    )
    fn = wait_compiled(client, [fid])[fid]
    assert fn["status"] == "FAILED" and "left-pad" in fn["compileError"]


# -- errors that say what to do ----------------------------------------------------------------


def test_an_unwrapped_execute_body_says_how_to_wrap_it(client):
    fid = ready_function(client, "javascript", "function handle(i) { return i; }")
    message = expect_error(client.post(f"/functions/{fid}/execute", json={"n": 1}), 400)["message"]
    assert '{"input":' in message


def test_a_wrong_method_lists_the_allowed_ones(client):
    message = expect_error(client.patch("/functions"), 405)["message"]
    assert "PATCH" in message and "GET" in message and "POST" in message
