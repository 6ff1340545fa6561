"""Layers point one way: what importing a package drags in (docs/architecture.md, the package map)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def loaded_by(modules: list[str]) -> set[str]:
    """The top-level pnil packages a fresh interpreter has loaded after importing `modules`."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def package_modules(package: str) -> list[str]:
    """Every module of the package and its subpackages (not the code a sandbox guest runs)."""
    return [
        ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        if "guest" not in path.parts and path.stem != "__main__"
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        (
            "store",
            {"runner", "migrations", "web", "executions", "compiler", "hostapi", "scheduler", "workflows"},
        ),
        ("functions", {"runner", "migrations", "web", "executions", "hostapi", "scheduler", "workflows"}),
        ("workflows", {"runner", "migrations", "web", "executions", "compiler", "hostapi", "scheduler"}),
        (
            "runner",
            {
                "store",
                "migrations",
                "web",
                "executions",
                "tasks",
                "broker",
                "compiler",
                "hostapi",
                "workflows",
            },
        ),
        ("broker", {"store", "runner", "migrations", "web", "executions", "tasks", "compiler"}),
        ("infra", {"store", "runner", "migrations", "web", "executions", "tasks", "broker", "compiler"}),
    ],
)
def test_a_lower_layer_imports_nothing_above_it(package, forbidden):
    modules = [m for m in package_modules(package) if m != "localrun"]  # orchestration, on top

    assert loaded_by(modules) & forbidden == set()
