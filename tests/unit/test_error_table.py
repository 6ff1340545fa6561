"""Domain refusals become HTTP answers in one place (web/errors.py's DOMAIN_ERRORS), not per route."""

from __future__ import annotations

import ast
from pathlib import Path

from web.errors import DOMAIN_ERRORS

WEB = Path(__file__).resolve().parents[2] / "web"
# An HTTP trigger answers the guest's callers, not the API's: its own codes (503 for a function
# that cannot run) and messages that hide details unless the binding asks for them.
OWN_ANSWERS = {"http_triggers/routes.py"}


def caught_names(path: Path) -> set[str]:
    """The names of the exception classes a module's except clauses catch."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            for kind in node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]:
                names.add(kind.attr if isinstance(kind, ast.Attribute) else getattr(kind, "id", ""))
    return names


def test_no_route_turns_a_domain_refusal_into_an_answer_itself():
    domain = {kind.__name__ for kind in DOMAIN_ERRORS}
    caught = {
        str(path.relative_to(WEB)): caught_names(path) & domain
        for path in WEB.rglob("*.py")
        if str(path.relative_to(WEB)) not in OWN_ANSWERS and path.stem != "__main__"  # CLIs print theirs
    }

    assert {module: names for module, names in caught.items() if names} == {}


def test_the_check_sees_a_caught_refusal(tmp_path):
    module = tmp_path / "routes.py"
    module.write_text("try:\n    pass\nexcept (runs.RunNotFound, KeyError):\n    pass\n")

    assert caught_names(module) == {"RunNotFound", "KeyError"}
