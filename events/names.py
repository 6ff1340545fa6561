"""Event type names and subscription patterns (pure logic)."""

from __future__ import annotations

import re

MAX_TYPE_CHARS = 200
# pnil's own domain events (events/domain.py) are named under this prefix; the rest are users'.
PLATFORM_PREFIX = "jsruntime."
SOURCES = ("user", "platform", "all")
_SEGMENT = r"[A-Za-z0-9_-]+"
TYPE_RE = re.compile(rf"^{_SEGMENT}(\.{_SEGMENT})*$")
PATTERN_RE = re.compile(rf"^(\*|{_SEGMENT}(\.{_SEGMENT})*(\.\*)?)$")


def type_error(name: object) -> str | None:
    """Why `name` is not a valid event type, or None."""
    if not isinstance(name, str) or not name:
        return "an event type is a non-empty string"
    if len(name) > MAX_TYPE_CHARS:
        return f"an event type has at most {MAX_TYPE_CHARS} characters"
    if not TYPE_RE.match(name):
        return (
            f"invalid event type {name!r}: dotted names of letters, digits, '_' and '-', e.g. order.created"
        )
    return None


def pattern_error(pattern: object) -> str | None:
    """Why `pattern` is not a valid subscription (an event type, `prefix.*` or `*`), or None."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_TYPE_CHARS:
        return f"an event type pattern is 1 to {MAX_TYPE_CHARS} characters"
    if not PATTERN_RE.match(pattern):
        return f"invalid event type pattern {pattern!r}: an event type, 'prefix.*' or '*'"
    return None


def matches(pattern: str, event_type: str) -> bool:
    """Exact names match themselves; `order.*` matches `order.created` and `order.item.added`."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type
