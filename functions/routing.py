"""HTTP trigger bindings: path patterns, overlap, and which binding serves a request (pure logic).

A pattern is a path of literal segments, `{name}` parameters and at most one trailing `*`
(e.g. `/users/{id}`, `/static/*`). A request path is served by, in order: an exact (all-literal)
binding, then the parameter binding with the most literal segments first, then the wildcard
binding with the longest prefix. Two bindings of one tenant overlap when their paths have the same
shape (same literals, parameters in the same places, whatever their names) and share a method.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_LITERAL = re.compile(r"^[A-Za-z0-9._~-]+$")
_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]{0,63})\}$")
_SEGMENT = r"([A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]{0,63}\})"
# What `check` accepts, as the OpenAPI document states it (but for a parameter named twice).
PATH_PATTERN = rf"^/*({_SEGMENT}/+)*({_SEGMENT}|\*)?/*$"


class InvalidPattern(ValueError):
    """An httpPath pnil cannot route; the message says why."""


def segments(path: str) -> list[str]:
    """The non-empty segments of a path."""
    return [s for s in path.split("/") if s]


def check(pattern: str) -> list[str]:
    """The pattern's segments, or InvalidPattern."""
    parts = segments(pattern)
    names = set()
    for i, part in enumerate(parts):
        if part == "*":
            if i != len(parts) - 1:
                raise InvalidPattern(
                    "httpPath may end with one '*' segment, e.g. /static/*; not have one inside"
                )
            continue
        param = _PARAM.match(part)
        if param:
            if param.group(1) in names:
                raise InvalidPattern(f"httpPath names the parameter {{{param.group(1)}}} twice")
            names.add(param.group(1))
        elif not _LITERAL.match(part):
            raise InvalidPattern(
                f"httpPath segment {part!r}: use letters, digits and ._~-, a {{name}} parameter or a final *"
            )
    return parts


def shape(pattern: str) -> tuple[str, ...]:
    """The pattern with parameter names erased: equal shapes serve the same paths."""
    return tuple("{}" if _PARAM.match(p) else p for p in segments(pattern))


def methods_of(methods: Iterable[str] | None) -> frozenset[str]:
    """A binding's methods: its own, or every method when it lists none."""
    chosen = frozenset(m.upper() for m in (methods or ()))
    return chosen or frozenset(METHODS)


def overlaps(
    a_path: str, a_methods: Iterable[str] | None, b_path: str, b_methods: Iterable[str] | None
) -> bool:
    """Whether two bindings of one tenant would compete for the same requests."""
    return shape(a_path) == shape(b_path) and bool(methods_of(a_methods) & methods_of(b_methods))


def match(pattern: str, path: str) -> dict[str, str] | None:
    """The parameters when `path` is served by `pattern` (`*` is the rest of the path), else None."""
    want, have = segments(pattern), segments(path)
    params: dict[str, str] = {}
    for i, part in enumerate(want):
        if part == "*":
            params["*"] = "/".join(have[i:])
            return params
        if i >= len(have):
            return None
        param = _PARAM.match(part)
        if param:
            params[param.group(1)] = have[i]
        elif part != have[i]:
            return None
    return params if len(have) == len(want) else None


def _rank(pattern: str) -> tuple[int, int]:
    parts = segments(pattern)
    literals = sum(1 for p in parts if p != "*" and not _PARAM.match(p))
    kind = 2 if parts and parts[-1] == "*" else (1 if literals < len(parts) else 0)
    return kind, -literals


@dataclass(frozen=True, slots=True)
class Resolution:
    """The binding that serves a request, or why none does."""

    binding: dict | None = None
    params: dict[str, str] | None = None
    allowed: tuple[str, ...] = ()  # when a binding matched the path but not the method


def resolve(bindings: Sequence[dict], method: str, path: str) -> Resolution:
    """Pick the binding (a row with http_path and http_methods) serving `method path`."""
    allowed: set[str] = set()
    for binding in sorted(bindings, key=lambda b: _rank(b["http_path"])):
        params = match(binding["http_path"], path)
        if params is None:
            continue
        methods = methods_of(binding["http_methods"])
        if method.upper() in methods or (method.upper() == "HEAD" and "GET" in methods):
            return Resolution(binding=binding, params=params)
        allowed |= methods
    return Resolution(allowed=tuple(sorted(allowed)))
