"""Each behaviour is written once: a test name belongs to one test file. A behaviour several
languages share is one test parametrised by language (tests/integration/test_language_api.py,
test_sandbox_limits.py), not a copy per language's file."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def names_by_file(root: Path) -> dict[str, set[str]]:
    """Test function name → the test files (relative paths) that define it (methods of classes too)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(root.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                found[node.name].add(str(path.relative_to(root)))
    return found


def test_no_test_name_is_defined_in_two_test_files():
    repeated = {name: sorted(files) for name, files in names_by_file(TESTS).items() if len(files) > 1}

    assert repeated == {}, "write the behaviour once, parametrised (by language), and delete the copies"


def test_the_check_sees_a_copy_in_another_file(tmp_path):
    for language in ("javascript", "python"):
        (tmp_path / f"test_{language}_api.py").write_text("def test_add_returns_the_sum(client):\n    pass\n")

    assert names_by_file(tmp_path)["test_add_returns_the_sum"] == {
        "test_javascript_api.py",
        "test_python_api.py",
    }
