"""JSON that PostgreSQL can store: no NaN/Infinity, no \\u0000 or lone surrogates, bounded nesting."""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Escapes that decode to characters PostgreSQL's text and jsonb refuse.
_SUSPECT_ESCAPE = re.compile(r"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class UnstorableJson(ValueError):
    """Valid-looking JSON the platform refuses; the message says why."""


def _reject_constant(name: str) -> Any:
    raise UnstorableJson(f"{name} is not valid JSON (use null or a string)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise UnstorableJson(f"the number {text[:40]} is too large to store")
    return value


def _bad_char(text: str) -> str | None:
    for char in text:
        if char == "\x00":
            return "\\u0000"
        if "\ud800" <= char <= "\udfff":
            return f"a lone surrogate (\\u{ord(char):04x})"
    return None


def unstorable_path(value: Any, path: str = "") -> str | None:
    """Where the first unstorable character is (e.g. `input.names[2]: \\u0000`), or None."""
    if isinstance(value, str):
        bad = _bad_char(value)
        return f"{path or '(top level)'}: {bad}" if bad else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            bad = _bad_char(key)
            if bad:
                return f"{here!r} (a key): {bad}"
            found = unstorable_path(item, here)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = unstorable_path(item, f"{path}[{i}]")
            if found:
                return found
    return None


def loads(text: str) -> Any:
    """json.loads with the platform's extra rules; raises JSONDecodeError or UnstorableJson."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise UnstorableJson("JSON is nested too deeply") from exc
    except json.JSONDecodeError:
        raise
    except UnstorableJson:
        raise
    except ValueError as exc:  # Python refuses integers of more than 4300 digits
        raise UnstorableJson("a number has too many digits (at most 4300)") from exc
    # The scan only runs when a suspect escape is present: the common case costs one regex search.
    where = unstorable_path(value) if _SUSPECT_ESCAPE.search(text) else None
    if where:
        raise UnstorableJson(f"{where} cannot be stored; remove it from the strings")
    return value
