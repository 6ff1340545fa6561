"""A flask-smorest Blueprint whose validation errors are 400 JSON naming the fields."""

from __future__ import annotations

import flask_smorest
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from infra import strict_json


def _describe(messages, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            name = key if key not in ("json", "query", "_schema") else ""
            parts += _describe(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return parts
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {' '.join(messages)}" if prefix else " ".join(messages)]
    return [f"{prefix}: {messages}"]


class JsonParser(FlaskParser):
    """400 instead of webargs' 422, with a message a person can act on."""

    DEFAULT_VALIDATION_STATUS = 400

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        detail = "; ".join(_describe(error.messages))
        abort(
            error_status_code or 400,
            message=f"invalid request: {detail}",
            errors=error.messages,
            headers=error_headers,
        )

    def _raw_load_json(self, req):
        body = req.get_data(cache=True)
        if not is_json_request(req):
            if body.strip():
                abort(415, message="send the body as JSON with Content-Type: application/json")
            return core.missing
        try:
            return strict_json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            abort(400, message=f"request body is not UTF-8: {exc.reason}")
        except strict_json.UnstorableJson as exc:
            abort(400, message=f"request body is not acceptable JSON: {exc}")

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(400, message=f"request body is not valid JSON: {error}")


class Blueprint(flask_smorest.Blueprint):
    """The project's blueprint."""

    ARGUMENTS_PARSER = JsonParser()
