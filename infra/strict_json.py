"""Request JSON that PostgreSQL can store: no NaN/Infinity, no \\u0000, bounded nesting."""

from __future__ import annotations

import json
from typing import Any


class UnstorableJson(ValueError):
    """Valid-looking JSON the platform refuses; the message says why."""


def _reject_constant(name: str) -> Any:
    raise UnstorableJson(f"{name} is not valid JSON (use null or a string)")


def nul_path(value: Any, path: str = "") -> str | None:
    """Where the first NUL character is (e.g. `input.names[2]`), or None."""
    if isinstance(value, str):
        return path or "(top level)" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return f"{here} (in the key)"
            found = nul_path(item, here)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}[{i}]")
            if found:
                return found
    return None


def loads(text: str) -> Any:
    """json.loads with the platform's extra rules; raises JSONDecodeError or UnstorableJson."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise UnstorableJson("JSON is nested too deeply") from exc
    # The scan only runs when the escape is present, so the common case costs one substring test.
    where = nul_path(value) if "\\u0000" in text else None
    if where:
        raise UnstorableJson(f"{where}: JSON strings may not contain \\u0000 (it cannot be stored)")
    return value
