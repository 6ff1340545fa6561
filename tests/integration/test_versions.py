"""Versions: list, source, diff, rollback; the lifecycle state endpoint."""

from __future__ import annotations

from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import (
    execute,
    expect_error,
    ready_function,
    wait_compiled,
)

V1 = "function handle(input) { return {v: 1}; }"
V2 = "function handle(input) { return {v: 2 ; }"  # a syntax error: version 2 fails to compile

__all__ = ["api"]  # fixture used below


def test_versions_diff_and_rollback_of_a_failed_version(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    client.put(f"/functions/{fid}", json={"source": V2, "changeDescription": "try v2"})
    assert wait_compiled(client, [fid])[fid]["status"] == "FAILED"

    listed = client.get(f"/functions/{fid}/versions").get_json()
    assert [(v["number"], v["status"], v["changeDescription"]) for v in listed] == [
        (2, "FAILED", "try v2"),
        (1, "READY", "created"),
    ]
    assert listed[0]["compileError"] and listed[0]["createdBy"]
    assert client.get(f"/functions/{fid}/versions/1").get_json()["source"] == V1
    expect_error(client.get(f"/functions/{fid}/versions/9"), 404)
    diff = client.get(f"/functions/{fid}/versions/1/diff/2").get_json()["diff"]
    assert (
        "-function handle(input) { return {v: 1}; }" in diff
        and "+function handle(input) { return {v: 2 ; }" in diff
    )
    assert client.get(f"/functions/{fid}/versions/2/diff/2").get_json() == {"diff": ""}

    rolled = client.post(f"/functions/{fid}/rollback", json={"version": 1})

    assert rolled.status_code == 200 and rolled.get_json()["version"] == 3
    assert wait_compiled(client, [fid])[fid]["status"] == "READY"
    assert execute(client, fid)["output"] == {"v": 1}
    assert execute(client, fid)["functionVersion"] == 3
    newest = client.get(f"/functions/{fid}/versions").get_json()[0]
    assert (newest["number"], newest["changeDescription"]) == (3, "rollback to version 1")
    expect_error(client.post(f"/functions/{fid}/rollback", json={"version": 42}), 404)
    expect_error(client.post(f"/functions/{fid}/rollback", json={"version": "1"}), 400)


def test_state_endpoint_follows_the_lifecycle(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)

    paused = client.post(f"/functions/{fid}/state", json={"state": "PAUSED"})
    illegal = client.post(f"/functions/{fid}/state", json={"state": "DRAFT"})
    unknown = client.post(f"/functions/{fid}/state", json={"state": "SLEEPING"})

    assert paused.status_code == 200 and paused.get_json()["state"] == "PAUSED"
    assert "ACTIVE, DISABLED" in expect_error(illegal, 409)["message"]
    expect_error(unknown, 400)
    expect_error(
        client.post("/functions/00000000-0000-0000-0000-000000000000/state", json={"state": "ACTIVE"}), 404
    )
    assert client.post(f"/functions/{fid}/state", json={"state": "ACTIVE"}).get_json()["state"] == "ACTIVE"
