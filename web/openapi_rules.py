"""Rules the server enforces that the schemas' fields alone do not put into the OpenAPI document.

Written into the document once every blueprint is registered, so that a request the document
accepts is one the server accepts (tests/openapi runs schemathesis to hold both to that):
- no path or query parameter may hold a NUL character (web/request_limits.py refuses it);
- path parameters checked by their route: a secret's name, a tenant's name;
- a function's trigger type needs its own field: SCHEDULED a cronExpression, HTTP an httpPath,
  EVENT at least one event type (FunctionWriteSchema._trigger_fields);
- resource limits stay within this server's caps (its settings);
- a workflow's steps are a canvas (workflows/canvas.py).
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Api

from infra.settings import Settings
from store.tenants import TENANT_NAME
from web.secrets.routes import NAME_SHAPE as SECRET_NAME
from workflows import canvas

NUL_FREE = "^[^\\u0000]*$"
# (path, parameter) → what the route checks, as the document states it.
PATH_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("/secrets/{name}", "name"): {"pattern": SECRET_NAME.pattern, "maxLength": 128},
    ("/admin/tenants/{name}", "name"): {"pattern": TENANT_NAME.pattern, "maxLength": 63},
}
_TRIGGER_NEEDS = {
    "SCHEDULED": {
        "required": ["type", "cronExpression"],
        "properties": {"cronExpression": {"type": "string"}},
    },
    "HTTP": {"required": ["type", "httpPath"], "properties": {"httpPath": {"type": "string"}}},
    "EVENT": {
        "required": ["type", "eventTypes"],
        "properties": {"eventTypes": {"type": "array", "minItems": 1}},
    },
}
WRITE_SCHEMAS = ("FunctionCreate", "FunctionUpdate")
CANVAS = "CanvasNode"
# Schemas whose fields hold a canvas node.
CANVAS_FIELDS = {"RunRequest": ("steps", "onFailure"), "WorkflowPut": ("steps", "onFailure")}
WORKFLOW_TRIGGERS = [
    {"properties": {"type": {"enum": ["ONEOFF"]}}},
    {
        "required": ["type", "cronExpression"],
        "properties": {"type": {"enum": ["SCHEDULED"]}, "cronExpression": {"type": "string"}},
    },
    {
        "required": ["type", "eventTypes"],
        "properties": {"type": {"enum": ["EVENT"]}, "eventTypes": {"type": "array", "minItems": 1}},
    },
]


def trigger_variants() -> list[dict[str, Any]]:
    """anyOf branches: a body whose type (default ONEOFF) comes with the field that type needs."""
    variants: list[dict[str, Any]] = [{"properties": {"type": {"enum": ["ONEOFF", "EMBEDDED"]}}}]
    for kind, needs in _TRIGGER_NEEDS.items():
        variants.append(
            {"required": needs["required"], "properties": {"type": {"enum": [kind]}, **needs["properties"]}}
        )
    return variants


FUNCTION_NODE = {
    "type": "object",
    "required": ["function"],
    "properties": {
        "function": {
            "type": "string",
            "maxLength": 200,
            "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
            "description": "a function's name or id",
        },
        "input": {"type": "object"},
        "retryPolicy": {"type": "object"},
    },
    "additionalProperties": False,
}


def canvas_node(depth: int = 2) -> dict[str, Any]:
    """A canvas node: {function, input?, retryPolicy?}, {chain: [...]}, {group: [...]} or
    {chord: {group, then}}. The server takes nodes nested up to 32 deep (1,000 steps); the document
    spells out `depth` levels, the innermost of them function nodes (a recursive schema makes
    schemathesis' runs several times slower)."""
    if depth <= 1:
        return FUNCTION_NODE
    inner = canvas_node(depth - 1)
    members = {"type": "array", "items": inner, "minItems": 1}

    def only(name: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [name],
            "properties": {name: schema},
            "additionalProperties": False,
        }

    chord = {
        "type": "object",
        "required": ["group", "then"],
        "properties": {"group": members, "then": inner},
        "additionalProperties": False,
    }
    return {
        "anyOf": [FUNCTION_NODE, only("chain", members), only("group", members), only("chord", chord)],
    }


def json_value(depth: int = 2) -> dict[str, Any]:
    """Any JSON value PostgreSQL can store (infra/strict_json.py: no NUL in a string or key),
    spelled out `depth` levels of arrays and objects deep (a recursive schema makes schemathesis'
    runs several times slower)."""
    leaves: list[dict[str, Any]] = [
        {"type": "string", "pattern": NUL_FREE},
        {"type": "number"},
        {"type": "boolean"},
    ]
    if depth > 0:
        inner = json_value(depth - 1)
        leaves.append({"type": "array", "items": inner})
        leaves.append(
            {"type": "object", "propertyNames": {"pattern": NUL_FREE}, "additionalProperties": inner}
        )
    else:  # deeper than spelled out: any JSON (the rule holds there too, unstated)
        leaves += [{"type": "array"}, {"type": "object", "additionalProperties": True}]
    return {"anyOf": leaves, "nullable": True}


def _storable(schema: dict[str, Any], schemas: dict[str, Any], seen: set[str]) -> None:
    """Write into a request schema that no string or key of it may hold a NUL character."""
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen and name in schemas:
            seen.add(name)
            _storable(schemas[name], schemas, seen)
        return
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            _storable(sub, schemas, seen)
    kind = schema.get("type")
    if kind == "string" and not {"enum", "pattern", "format"} & schema.keys():
        schema["pattern"] = NUL_FREE
    elif kind == "array" and isinstance(schema.get("items"), dict):
        _storable(schema["items"], schemas, seen)
    elif kind == "object":
        schema.setdefault("propertyNames", {"pattern": NUL_FREE})
        for sub in schema.get("properties", {}).values():
            _storable(sub, schemas, seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            _storable(extra, schemas, seen)
        elif "properties" not in schema and extra is None:  # a free-form JSON object
            schema["additionalProperties"] = json_value(1)
    elif not schema or schema.keys() <= {"description", "nullable", "default"}:  # any JSON
        schema.update(json_value())


def _nul_free(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string" and not {"enum", "pattern", "format"} & schema.keys():
        schema["pattern"] = NUL_FREE
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        _nul_free(schema["items"])


def _server_caps(settings: Settings) -> dict[str, int]:
    return {
        "maxExecutionTimeMs": settings.max_execution_time_cap_ms,
        "maxMemoryBytes": settings.max_memory_cap_bytes,
        "maxOutputSizeBytes": settings.max_output_cap_bytes,
    }


def install(api: Api, settings: Settings) -> None:
    """Write the rules into api's OpenAPI document (call after registering every blueprint)."""
    for path, operations in api.spec._paths.items():  # apispec keeps registered paths there
        # Path parameters are listed once for the path, query parameters per operation.
        lists = [operations.get("parameters", [])]
        lists += [op.get("parameters", []) for op in operations.values() if isinstance(op, dict)]
        for parameters in lists:
            for parameter in parameters:
                if not isinstance(parameter, dict) or not isinstance(parameter.get("schema"), dict):
                    continue
                parameter["schema"].update(PATH_PARAMETERS.get((path, parameter.get("name")), {}))
                if parameter.get("in") in ("path", "query"):
                    _nul_free(parameter["schema"])
    schemas = api.spec.components.schemas
    limits = schemas.get("ResourceLimits", {}).get("properties", {})
    for name, cap in _server_caps(settings).items():
        if name in limits:
            limits[name]["maximum"] = cap
    for name in WRITE_SCHEMAS:
        if name in schemas:
            schemas[name]["anyOf"] = trigger_variants()
    if "KeyCreate" in schemas:  # store/tenants.create_key: functions limit an invoke key only
        schemas["KeyCreate"]["anyOf"] = [
            {"not": {"required": ["functions"]}},
            {"required": ["scopes"], "properties": {"scopes": {"contains": {"enum": ["invoke"]}}}},
        ]
    if "WorkflowPut" in schemas:
        schemas["WorkflowPut"]["anyOf"] = WORKFLOW_TRIGGERS
    api.spec.components.schema(
        CANVAS, {"description": canvas.__doc__.split("\n\n")[1].replace("\n", " "), **canvas_node()}
    )
    for name, names in CANVAS_FIELDS.items():
        properties = schemas.get(name, {}).get("properties", {})
        for field in names:
            if field in properties:
                nullable = properties[field].get("nullable", False)
                properties[field] = {"allOf": [{"$ref": f"#/components/schemas/{CANVAS}"}]}
                if nullable:
                    properties[field]["nullable"] = True
    # Every request body: no NUL in any string or key (the canvas included).
    seen: set[str] = set()
    for operations in api.spec._paths.values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                for media in operation["requestBody"].get("content", {}).values():
                    _storable(media.get("schema", {}), schemas, seen)
