"""The OpenAPI document states the rules the server enforces (the requests issue 25 found)."""

from __future__ import annotations

import jsonschema_rs
import pytest

from infra.settings import Settings
from web.app import create_app


@pytest.fixture(scope="module")
def spec():
    app = create_app(Settings(database_url="postgresql://pnil@127.0.0.1:1/unused"))  # never connects
    return app.test_client().get("/openapi.json").get_json()


def _json_schema(node):
    """OpenAPI 3.0's schema dialect as JSON Schema (as schemathesis reads it): a boolean
    exclusiveMinimum moves onto the minimum, nullable admits null."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if out.get("exclusiveMinimum") is True:
        out["exclusiveMinimum"] = out.pop("minimum")
    if node.get("nullable") is True:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _valid(spec, schema: dict, value) -> bool:
    whole = {**schema, "components": _json_schema(spec["components"])}
    return jsonschema_rs.validator_for(whole).is_valid(value)


def _body(spec, path: str, method: str) -> dict:
    return spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def _parameter(spec, path: str, name: str, method: str | None = None) -> dict:
    operations = spec["paths"][path]
    parameters = operations.get("parameters", []) + (
        operations[method].get("parameters", []) if method else []
    )
    return next(p["schema"] for p in parameters if p["name"] == name)


def test_the_requests_the_server_refuses_are_schema_invalid(spec):
    assert not _valid(spec, _body(spec, "/kv/{key}", "put"), {"value": 1, "ttl": 0})
    assert _valid(spec, _body(spec, "/kv/{key}", "put"), {"value": 1, "ttl": 0.5})
    assert not _valid(spec, _body(spec, "/events", "post"), {"type": ""})
    assert not _valid(spec, _body(spec, "/events", "post"), {"type": "a..b"})
    assert _valid(spec, _body(spec, "/events", "post"), {"type": "order.created", "payload": {"n": 1}})
    assert not _valid(spec, _body(spec, "/events", "post"), {"type": "x", "payload": {"k\x00": 1}})
    tenant = "t" * 100
    assert not _valid(spec, _body(spec, "/admin/keys", "post"), {"tenant": tenant})
    assert not _valid(spec, _parameter(spec, "/admin/tenants/{name}", "name"), tenant)
    assert _valid(spec, _parameter(spec, "/admin/tenants/{name}", "name"), "acme-1")
    assert not _valid(spec, _parameter(spec, "/secrets/{name}", "name"), "00")
    assert not _valid(spec, _parameter(spec, "/workflows/{name}", "name"), "runs")
    tag = _parameter(spec, "/functions", "tag", "get")
    assert tag["items"]["type"] == "string" and not _valid(spec, tag, [False])


def test_execute_takes_an_empty_body(spec):
    assert _valid(spec, _body(spec, "/functions/{function_id}/execute", "post"), {})


def test_a_function_states_what_its_trigger_type_needs(spec):
    create = _body(spec, "/functions", "post")
    base = {"name": "f", "language": "javascript", "source": "x"}
    assert _valid(spec, create, base)
    assert not _valid(spec, create, {**base, "type": "SCHEDULED"})
    assert _valid(spec, create, {**base, "type": "SCHEDULED", "cronExpression": "*/5 * * * *"})
    assert not _valid(spec, create, {**base, "type": "SCHEDULED", "cronExpression": "61 * * * *"})
    assert not _valid(spec, create, {**base, "type": "EVENT", "eventTypes": []})
    assert not _valid(spec, create, {**base, "timezone": "Mars/Olympus"})
    assert not _valid(spec, create, {**base, "name": "123e4567-e89b-12d3-a456-426614174000"})
    assert not _valid(spec, create, {**base, "resourceLimits": {"maxExecutionTimeMs": 10**9}})


def test_a_workflow_canvas_is_stated(spec):
    run = _body(spec, "/workflows/runs", "post")
    assert _valid(spec, run, {"steps": {"chain": [{"function": "a"}, {"function": "b"}]}})
    assert not _valid(spec, run, {"steps": {"chain": []}})
    assert not _valid(spec, run, {"steps": {"function": "a", "chain": [{"function": "b"}]}})
