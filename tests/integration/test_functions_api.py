"""The /functions API against a real database and real pgmq (no worker processes)."""

from __future__ import annotations

import json
import uuid

import pytest

from contracts.compilation import CONTRACT
from infra.settings import Settings
from web.app import create_app

ECHO = "export function handle(input: string): string { return input; }"
ECHO_2 = 'export function handle(input: string): string { return input + "!"; }'


def body(name="echo", **extra) -> dict:
    return {"name": name, "language": "assemblyscript", "source": ECHO, **extra}


def expect_error(resp, status: int) -> dict:
    """The response is a JSON error of that status (never HTML)."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type.startswith("application/json"), resp.content_type
    data = resp.get_json()
    assert data["code"] == status
    assert isinstance(data["message"], str) and data["message"]
    assert "<html" not in resp.get_data(as_text=True).lower()
    return data


def create(client, **fields) -> dict:
    resp = client.post("/functions", json=body(**fields))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def job_bodies(db) -> list[dict]:
    return [row[0] for row in db.execute("SELECT message FROM pgmq.q_compilation_jobs ORDER BY msg_id")]


# -- create ----------------------------------------------------------------------------------


def test_create_answers_201_pending_with_camel_case_fields(client):
    resp = client.post("/functions", json=body(description="says it back"))

    assert resp.status_code == 201
    data = resp.get_json()
    uuid.UUID(data["id"])
    assert data["status"] == "PENDING"
    assert data["name"] == "echo"
    assert data["description"] == "says it back"
    assert data["language"] == "assemblyscript"
    assert data["source"] == ECHO
    assert data["compileError"] is None
    assert data["version"] == 1
    assert data["resourceLimits"]["maxExecutionTimeMs"] == 30_000
    for field in ("createdAt", "updatedAt", "createdBy", "type", "state"):
        assert field in data
    assert not any("_" in key for key in data)
    assert "wasmBinary" not in data


def test_create_writes_version_1_and_one_job_in_the_same_commit(client, db):
    data = create(client)

    versions = db.execute(
        "SELECT version, source, language FROM function_versions WHERE function_id = %s", (data["id"],)
    ).fetchall()
    assert versions == [(1, ECHO, "assemblyscript")]
    jobs = job_bodies(db)
    assert len(jobs) == 1
    assert jobs[0] == {
        "contract": CONTRACT,
        "functionId": data["id"],
        "language": "assemblyscript",
        "source": ECHO,
        "version": 1,
        "tenantId": "00000000-0000-0000-0000-000000000001",
    }


def test_no_row_is_left_when_the_job_cannot_be_published(client, db):
    # Given a queue that is gone, publishing the job fails inside the row's transaction.
    db.execute("SELECT pgmq.drop_queue('compilation_jobs')")

    resp = client.post("/functions", json=body())

    expect_error(resp, 500)
    assert db.execute("SELECT count(*) FROM functions").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM function_versions").fetchone()[0] == 0


# -- read ------------------------------------------------------------------------------------


def test_get_by_id_returns_source_status_and_compile_error(client, db):
    data = create(client)
    db.execute(
        "UPDATE functions SET status = 'FAILED', compile_error = 'ERROR TS2322 at 1:2' WHERE id = %s",
        (data["id"],),
    )

    got = client.get(f"/functions/{data['id']}").get_json()

    assert got["source"] == ECHO
    assert got["status"] == "FAILED"
    assert got["compileError"] == "ERROR TS2322 at 1:2"


def test_list_is_paginated_newest_first(client):
    ids = [create(client, name=f"f{i}")["id"] for i in range(5)]

    everything = client.get("/functions").get_json()
    page = client.get("/functions?limit=2&offset=1").get_json()

    assert [f["id"] for f in everything] == ids[::-1]
    assert [f["id"] for f in page] == ids[::-1][1:3]
    assert client.get("/functions?offset=10").get_json() == []


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=100000", "offset=-1"])
def test_bad_pagination_is_400_json(client, query):
    data = expect_error(client.get(f"/functions?{query}"), 400)
    assert query.split("=")[0] in data["message"]


def test_unknown_and_non_uuid_ids_are_404_json(client):
    expect_error(client.get(f"/functions/{uuid.uuid4()}"), 404)
    expect_error(client.get("/functions/not-a-uuid"), 404)
    expect_error(client.put("/functions/12345", json={"name": "x"}), 404)
    expect_error(client.delete("/functions/zzz"), 404)


# -- update ----------------------------------------------------------------------------------


def test_put_new_source_is_a_new_version_pending_and_a_new_job(client, db):
    data = create(client)
    db.execute(
        "UPDATE functions SET status = 'READY', wasm_binary = '\\x00'::bytea WHERE id = %s", (data["id"],)
    )

    resp = client.put(f"/functions/{data['id']}", json={"source": ECHO_2, "changeDescription": "bang"})

    assert resp.status_code == 200
    updated = resp.get_json()
    assert updated["version"] == 2
    assert updated["status"] == "PENDING"
    assert updated["source"] == ECHO_2
    versions = db.execute(
        "SELECT version, source, change_description FROM function_versions WHERE function_id = %s "
        "ORDER BY version",
        (data["id"],),
    ).fetchall()
    assert versions == [(1, ECHO, "created"), (2, ECHO_2, "bang")]
    assert db.execute("SELECT wasm_binary FROM functions WHERE id = %s", (data["id"],)).fetchone()[0] is None
    assert [(j["version"], j["source"]) for j in job_bodies(db)] == [(1, ECHO), (2, ECHO_2)]


def test_put_only_name_is_not_a_new_version(client, db):
    data = create(client)

    updated = client.put(f"/functions/{data['id']}", json={"name": "renamed"}).get_json()

    assert updated["name"] == "renamed"
    assert updated["version"] == 1
    assert updated["status"] == "PENDING"
    count = db.execute("SELECT count(*) FROM function_versions WHERE function_id = %s", (data["id"],))
    assert count.fetchone()[0] == 1
    assert len(job_bodies(db)) == 1


def test_put_same_source_is_not_a_new_version(client, db):
    data = create(client)

    updated = client.put(f"/functions/{data['id']}", json={"source": ECHO}).get_json()

    assert updated["version"] == 1
    assert len(job_bodies(db)) == 1


def test_put_validates_like_post(client):
    data = create(client)
    err = expect_error(client.put(f"/functions/{data['id']}", json={"language": "cobol"}), 400)
    assert "language" in err["message"]
    err = expect_error(client.put(f"/functions/{data['id']}", json={"name": 5}), 400)
    assert "name" in err["message"]


# -- delete ----------------------------------------------------------------------------------


def test_delete_is_204_then_404_and_takes_versions_and_executions(client, db):
    data = create(client)
    client.put(f"/functions/{data['id']}", json={"source": ECHO_2})
    db.execute(
        "INSERT INTO executions (function_id, tenant_id, status) SELECT id, tenant_id, 'PENDING' "
        "FROM functions WHERE id = %s",
        (data["id"],),
    )

    resp = client.delete(f"/functions/{data['id']}")

    assert resp.status_code == 204
    assert resp.get_data() == b""
    expect_error(client.get(f"/functions/{data['id']}"), 404)
    expect_error(client.delete(f"/functions/{data['id']}"), 404)
    for table in ("functions", "function_versions", "executions"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["name", "language", "source"])
def test_missing_required_field_is_400_naming_it(client, missing):
    payload = body()
    del payload[missing]

    data = expect_error(client.post("/functions", json=payload), 400)

    assert missing in data["message"]
    assert missing in json.dumps(data.get("errors"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 42),
        ("source", ["not", "text"]),
        ("description", {"a": 1}),
        ("resourceLimits", "fast"),
        ("tags", "one"),
        ("name", ""),
    ],
)
def test_wrong_typed_field_is_400_naming_it(client, field, value):
    data = expect_error(client.post("/functions", json=body(**{field: value})), 400)
    assert field in data["message"]


def test_unknown_field_is_400_naming_it(client):
    data = expect_error(client.post("/functions", json=body(colour="blue")), 400)
    assert "colour" in data["message"]


def test_unknown_language_is_400(client):
    data = expect_error(client.post("/functions", json=body(language="cobol")), 400)
    assert "language" in data["message"]
    assert "assemblyscript" in data["message"]


def test_body_that_is_not_an_object_is_400(client):
    expect_error(client.post("/functions", json=[1, 2]), 400)


def test_invalid_cron_for_scheduled_is_400(client, db):
    for cron in ("not a cron", "61 * * * *", "* * * *"):
        data = expect_error(client.post("/functions", json=body(type="SCHEDULED", cronExpression=cron)), 400)
        assert "cronExpression" in data["message"]
    data = expect_error(client.post("/functions", json=body(type="SCHEDULED")), 400)
    assert "cronExpression" in data["message"]
    ok = client.post("/functions", json=body(type="SCHEDULED", cronExpression="*/5 * * * *"))
    assert ok.status_code == 201
    assert ok.get_json()["cronExpression"] == "*/5 * * * *"
    assert db.execute("SELECT count(*) FROM functions").fetchone()[0] == 1


@pytest.mark.parametrize("value", [0, -5])
def test_non_positive_resource_limit_is_400(client, value):
    data = expect_error(client.post("/functions", json=body(resourceLimits={"maxMemoryBytes": value})), 400)
    assert "maxMemoryBytes" in data["message"]


def test_resource_limit_above_the_cap_is_400(client, settings):
    over = settings.max_execution_time_cap_ms + 1
    payload = body(resourceLimits={"maxExecutionTimeMs": over})

    data = expect_error(client.post("/functions", json=payload), 400)

    assert "maxExecutionTimeMs" in data["message"]
    assert str(settings.max_execution_time_cap_ms) in data["message"]


def test_resource_limits_are_stored_and_merged_with_defaults(client):
    data = create(client, resourceLimits={"maxExecutionTimeMs": 1000})
    assert data["resourceLimits"]["maxExecutionTimeMs"] == 1000
    assert data["resourceLimits"]["maxMemoryBytes"] == 64 * 1024 * 1024


def test_source_over_1_mib_is_413_json(client, db):
    big = "// " + "x" * (1024 * 1024)

    data = expect_error(client.post("/functions", json=body(source=big)), 413)

    assert "source" in data["message"]
    assert db.execute("SELECT count(*) FROM functions").fetchone()[0] == 0


def test_body_over_the_configured_limit_is_413_json(database_url):
    app = create_app(Settings(database_url=database_url, allow_anonymous=True, max_body_bytes=1000))
    try:
        resp = app.test_client().post("/functions", json=body(source="// " + "x" * 2000))
        data = expect_error(resp, 413)
        assert "1000" in data["message"]
    finally:
        app.extensions["pnil.db"].close()


@pytest.mark.parametrize("raw", ['{"name": "x",', "not json at all", ""])
def test_malformed_json_is_400_json(client, raw):
    resp = client.post("/functions", data=raw, content_type="application/json")
    data = expect_error(resp, 400)
    if raw:
        assert "JSON" in data["message"]


def test_unknown_route_is_404_json(client):
    expect_error(client.get("/nothing/here"), 404)
    expect_error(client.post("/functionz", json={}), 404)


def test_wrong_method_is_405_json(client):
    resp = client.patch("/functions", json={})
    expect_error(resp, 405)
    assert "POST" in resp.headers["Allow"]
    expect_error(client.post(f"/functions/{uuid.uuid4()}", json={}), 405)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source", "abc\u0000def"),
        ("name", "a\u0000b"),
        ("tags", ["ok", "n\u0000"]),
        ("metadata", {"k": "\u0000"}),
    ],
)
def test_nul_characters_are_400_not_500(client, db, field, value):
    data = expect_error(client.post("/functions", json=body(**{field: value})), 400)
    assert field in data["message"]
    assert db.execute("SELECT count(*) FROM functions").fetchone()[0] == 0


def test_huge_offset_is_400_not_500(client):
    data = expect_error(client.get("/functions?offset=99999999999999999999"), 400)
    assert "offset" in data["message"]


def test_a_taken_http_path_is_409_json(client):
    first = create(client, name="one", type="HTTP", httpPath="hello")
    other = create(client, name="two")

    expect_error(client.post("/functions", json=body(type="HTTP", httpPath="hello")), 409)
    resp = client.put(f"/functions/{other['id']}", json={"type": "HTTP", "httpPath": "hello"})
    expect_error(resp, 409)
    assert client.get(f"/functions/{other['id']}").get_json()["type"] == "ONEOFF"
    assert client.get(f"/functions/{first['id']}").get_json()["httpPath"] == "hello"


# -- documentation ---------------------------------------------------------------------------


def test_openapi_document_lists_functions(client):
    resp = client.get("/openapi.json")

    assert resp.status_code == 200
    doc = json.loads(resp.get_data(as_text=True))
    assert "/functions" in doc["paths"]
    assert "/functions/{function_id}" in doc["paths"]
    assert "/admin/queues" in doc["paths"]
    assert set(doc["paths"]["/functions"]) >= {"get", "post"}


def test_docs_page_answers_200(client):
    resp = client.get("/docs")
    assert resp.status_code == 200
    assert "swagger" in resp.get_data(as_text=True).lower()


# -- logs ------------------------------------------------------------------------------------


def test_create_logs_function_created_and_job_published(client, caplog):
    caplog.set_level("INFO")

    data = create(client)

    events = {r.getMessage(): r for r in caplog.records if getattr(r, "functionId", None) == data["id"]}
    assert {"function.created", "compilation.job.published"} <= set(events)
    assert events["compilation.job.published"].version == 1
    assert events["function.created"].tenantId == "00000000-0000-0000-0000-000000000001"


def test_lifecycle_changes_through_put_and_illegal_ones_are_409(client):
    fid = client.post(
        "/functions", json={"name": "f", "language": "assemblyscript", "source": ECHO, "state": "DRAFT"}
    ).get_json()["id"]

    assert client.put(f"/functions/{fid}", json={"state": "PAUSED"}).status_code == 409
    assert client.put(f"/functions/{fid}", json={"state": "ACTIVE"}).get_json()["state"] == "ACTIVE"
    assert client.put(f"/functions/{fid}", json={"state": "PAUSED"}).get_json()["state"] == "PAUSED"
    assert client.put(f"/functions/{fid}", json={"state": "DISABLED"}).status_code == 200
    conflict = client.put(f"/functions/{fid}", json={"state": "ACTIVE"})
    assert conflict.status_code == 409 and conflict.is_json
    assert "allowed from DISABLED: ARCHIVED" in conflict.get_json()["message"]
    assert client.get(f"/functions/{fid}").get_json()["state"] == "DISABLED"


def test_a_paused_function_does_not_execute(client, db):
    fid = client.post(
        "/functions", json={"name": "f", "language": "assemblyscript", "source": ECHO}
    ).get_json()["id"]
    db.execute("UPDATE functions SET status = 'READY', wasm_binary = '\\x00' WHERE id = %s", (fid,))
    client.put(f"/functions/{fid}", json={"state": "PAUSED"})

    resp = client.post(f"/functions/{fid}/execute", json={"input": {}})

    assert resp.status_code == 400 and "PAUSED" in resp.get_json()["message"]


def test_a_fetched_function_can_be_sent_back_with_put(client):
    created = client.post("/functions", json={"name": "f", "language": "assemblyscript", "source": ECHO})
    fetched = client.get(f"/functions/{created.get_json()['id']}").get_json()

    resp = client.put(f"/functions/{fetched['id']}", json={**fetched, "description": "edited"})

    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["description"] == "edited" and resp.get_json()["version"] == 1
    typo = client.put(f"/functions/{fetched['id']}", json={"descripton": "x"})
    assert typo.status_code == 400 and "descripton" in typo.get_json()["message"]
