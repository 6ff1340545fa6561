"""Request JSON that PostgreSQL can store: no NaN/Infinity, no \\u0000, bounded nesting."""

from __future__ import annotations

import json
from typing import Any


class UnstorableJson(ValueError):
    """Valid-looking JSON the platform refuses; the message says why."""


def _reject_constant(name: str) -> Any:
    raise UnstorableJson(f"{name} is not valid JSON (use null or a string)")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def loads(text: str) -> Any:
    """json.loads with the platform's extra rules; raises JSONDecodeError or UnstorableJson."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise UnstorableJson("JSON is nested too deeply") from exc
    # The scan only runs when the escape is present, so the common case costs one substring test.
    if "\\u0000" in text and _has_nul(value):
        raise UnstorableJson("JSON strings may not contain \\u0000 (it cannot be stored)")
    return value
