"""A statement with an optional filter (`%s::type IS NULL OR ...`) is never prepared (store/__init__.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL_FILTER = re.compile(r"%(\(\w+\))?s::\w+ IS NULL OR", re.IGNORECASE)
SQL_PACKAGES = ("store", "broker", "executions", "functions", "workflows", "events", "hostapi", "scheduler")


def _text(node: ast.AST) -> str:
    """The literal text of a string expression (constants, f-string parts, concatenations)."""
    return "".join(
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    )


def _unprepared(call: ast.Call) -> bool:
    return any(
        kw.arg == "prepare" and isinstance(kw.value, ast.Constant) and kw.value.value is False
        for kw in call.keywords
    )


def optional_filters_prepared(source: str) -> list[int]:
    """Lines of `.execute(...)` calls whose SQL has an optional filter but may be prepared."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "execute"
        ):
            if node.args and OPTIONAL_FILTER.search(_text(node.args[0])) and not _unprepared(node):
                found.append(node.lineno)
    return found


def test_statements_with_optional_filters_are_not_prepared():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in SQL_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in optional_filters_prepared(path.read_text())
    ]
    assert offenders == [], f"execute these with prepare=False (see store/__init__.py): {offenders}"


def test_the_check_sees_an_optional_filter():
    prepared = 'conn.execute("SELECT 1 FROM t WHERE (%(s)s::text IS NULL OR s = %(s)s)", {"s": s})'
    unprepared = prepared[:-1] + ", prepare=False)"
    assert optional_filters_prepared(prepared) == [1]
    assert optional_filters_prepared(unprepared) == []
