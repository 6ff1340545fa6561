"""Which module runs each language: the table the sandbox child dispatches through.

The child looks a language's runner up here and imports it by name, so `runner/sandbox/` never
imports the language packages beside it. Each named module has
`make_runner(engine, *, cache_dir, cache_capacity, on_compile)`; languages that share a module
share one runner.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from runner.contract import Language

RUNNER_MODULES: dict[Language, str] = {
    Language.ASSEMBLYSCRIPT: "runner.assemblyscript.runner",
    Language.WASM: "runner.assemblyscript.runner",  # a module that follows the AssemblyScript ABI
    Language.JAVASCRIPT: "runner.javascript.runner",
    Language.PYTHON: "runner.python.runner",
}
# Made when a runner subprocess starts; the others on their first run (loading a runtime takes time).
EAGER = (Language.ASSEMBLYSCRIPT,)


def runner_factory(language: Language) -> Callable[..., Any]:
    """The `make_runner` of the module that runs `language`."""
    return importlib.import_module(RUNNER_MODULES[language]).make_runner
