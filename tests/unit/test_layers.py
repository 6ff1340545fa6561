"""Layers point one way: every import of every module against the one table of docs/architecture.md.

The package map there lists the packages top to bottom; each row says which packages below it the
package may import. Imports are read from the source (module level, inside functions and under
TYPE_CHECKING alike), so a lazy import does not hide an edge. A row may name a package that is
not in this checkout yet (it is being written beside this one); every package in the checkout
must have a row.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = PROJECT_ROOT / "docs" / "architecture.md"
# Not layered with the server: the tests, and the SDK/CLI (client/pnil_client, HTTP only).
NOT_LAYERED = {"tests", "client"}
EVERY_PACKAGE_BELOW = "every package below"


def documented_layers(text: str) -> dict[str, set[str]]:
    """package → the packages it may import, from the package map's table (rows top to bottom)."""
    section = text.split("## The package map", 1)[1].split("\n## ", 1)[0]
    rows: list[tuple[str, str]] = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`\w+/`", cells[0]):
            rows.append((cells[0].strip("`/"), cells[2]))
    table: dict[str, set[str]] = {}
    for i, (package, allowed) in enumerate(rows):
        below = [name for name, _ in rows[i + 1 :]]
        table[package] = (
            set(below) if EVERY_PACKAGE_BELOW in allowed else set(re.findall(r"`(\w+)/`", allowed))
        )
    return table


def documented_order(text: str) -> list[str]:
    """The table's packages, top to bottom."""
    return list(documented_layers(text))


def packages() -> list[str]:
    """Every top-level package of the checkout."""
    return sorted(
        path.parent.name for path in PROJECT_ROOT.glob("*/__init__.py") if path.parent.name not in NOT_LAYERED
    )


def module_files(package: str) -> list[Path]:
    """The package's modules (not the code a sandbox guest runs inside wasm)."""
    return [path for path in sorted((PROJECT_ROOT / package).rglob("*.py")) if "guest" not in path.parts]


def imported_names(path: Path) -> list[tuple[str, list[str]]]:
    """(module, [names]) for every absolute import of the file; `import a.b` gives ("a.b", [])."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def imports_of(package: str, known: set[str]) -> dict[str, set[str]]:
    """Other pnil packages the package's modules import: {imported package: {module paths}}."""
    found: dict[str, set[str]] = {}
    for path in module_files(package):
        for module, _ in imported_names(path):
            top = module.split(".")[0]
            if top in known and top != package:
                found.setdefault(top, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return found


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """A loop of the graph (as a path that returns to its start), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (loop := visit(nxt, path + [nxt])):
                return loop
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (loop := visit(start, [start])):
            return loop
    return None


def module_graph(package_names: list[str]) -> dict[str, set[str]]:
    """Every pnil module → the pnil modules it imports. `from a import b` is an edge to the module
    a.b when there is one, else to a; the parent packages' __init__ that Python runs first are not
    edges (a package's __init__ re-exporting its modules would otherwise be a loop with each)."""
    paths: dict[str, Path] = {}
    for package in package_names:
        for path in module_files(package):
            name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            paths[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in paths.items():
        deps = set()
        for module, names in imported_names(path):
            submodules = {f"{module}.{n}" for n in names} & paths.keys()
            if submodules:
                deps |= submodules
            if module in paths and (not names or len(submodules) < len(names)):
                deps.add(module)
        graph[name] = deps - {name}
    return graph


TEXT = ARCHITECTURE.read_text(encoding="utf-8")
LAYERS = documented_layers(TEXT)


def test_the_table_names_every_package():
    assert set(packages()) - set(LAYERS) == set(), "a package without a row in docs/architecture.md"


def test_a_row_allows_only_packages_below_it():
    # the order of the rows is the order of the layers: no loop is possible between packages
    order = documented_order(TEXT)
    for i, package in enumerate(order):
        assert LAYERS[package] <= set(order[i + 1 :]), f"{package}/ may import a package above it"
    assert cycle_in(LAYERS) is None


@pytest.mark.parametrize("package", packages())
def test_a_package_imports_only_what_its_row_allows(package):
    found = imports_of(package, set(LAYERS) | set(packages()))

    not_allowed = {other: sorted(paths) for other, paths in found.items() if other not in LAYERS[package]}
    assert not_allowed == {}, f"{package}/ imports packages its row in docs/architecture.md does not list"


def test_no_module_imports_itself_back_through_others():
    # e.g. broker.py -> task.py -> delivery.py -> heartbeat.py -> broker.py was one
    assert cycle_in(module_graph(packages())) is None


def test_the_sandbox_reaches_languages_only_through_the_table():
    # runner/sandbox/ is below the language packages: it names them in runner/languages.py only
    languages = {"runner.assemblyscript", "runner.javascript", "runner.python"}
    for path in module_files("runner/sandbox"):
        for module, _ in imported_names(path):
            assert not any(module == lang or module.startswith(lang + ".") for lang in languages), path


def test_the_reader_finds_a_loop_and_parses_rows():
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None
    text = (
        "## The package map\n| `w/` | top | every package below |\n| `x/` | what | `y/`, `z/` |\n"
        "| `y/` | what | — |\n| `z/` | what | — |\n\n## Next\n| `q/` | not this table | — |\n"
    )
    assert documented_layers(text) == {"w": {"x", "y", "z"}, "x": {"y", "z"}, "y": set(), "z": set()}
    assert documented_order(text) == ["w", "x", "y", "z"]
