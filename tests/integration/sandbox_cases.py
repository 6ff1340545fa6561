"""The hostile functions every language's sandbox must survive, written once per language.

Used by the runner-level suite (test_sandbox_limits.py) and the API-level one (test_language_api.py).
"""

from __future__ import annotations

from pathlib import Path

from runner.contract import Language

AS_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "assemblyscript"
MIB = 1024 * 1024
UNICODE = {"text": "Zoë ✓ 日本語 😀", "list": [1, 2.5, None, True], "nested": {"k": "\u2028"}}
# Case → source per language; AssemblyScript names a module in tests/fixtures/assemblyscript.
CASES: dict[str, dict[Language, str]] = {
    "echo": {
        Language.ASSEMBLYSCRIPT: "echo",
        Language.JAVASCRIPT: "function handle(input) { return input; }",
        Language.PYTHON: "def handle(input):\n    return input\n",
    },
    "loop": {
        Language.ASSEMBLYSCRIPT: "loop",
        Language.JAVASCRIPT: "function handle(input) { while (true) {} }",
        Language.PYTHON: "def handle(input):\n    while True:\n        pass\n",
    },
    "membomb": {
        Language.ASSEMBLYSCRIPT: "membomb",
        Language.JAVASCRIPT: (
            "function handle() { const a = []; while (true) a.push('x'.repeat(65536) + a.length); }"
        ),
        Language.PYTHON: (
            "def handle(input):\n    chunks = []\n    while True:\n        chunks.append('x' * 65536)\n"
        ),
    },
    "recursion": {
        Language.ASSEMBLYSCRIPT: "recursion",
        Language.JAVASCRIPT: "function f(n) { return f(n + 1) + 1; }\nfunction handle() { return f(0); }",
        Language.PYTHON: "def f(n):\n    return f(n + 1) + 1\n\ndef handle(input):\n    return f(0)\n",
    },
    "bigoutput": {
        Language.ASSEMBLYSCRIPT: "bigoutput",
        Language.JAVASCRIPT: "function handle() { return 'x'.repeat(4 * 1024 * 1024); }",
        Language.PYTHON: "def handle(input):\n    return 'x' * (4 * 1024 * 1024)\n",
    },
    "logflood": {
        Language.ASSEMBLYSCRIPT: "logging",
        Language.JAVASCRIPT: (
            "function handle(n) { for (let i = 0; i < n; i++) console.log('line ' + i); return n; }"
        ),
        Language.PYTHON: "def handle(n):\n    for i in range(n):\n        print('line', i)\n    return n\n",
    },
    "globals": {
        Language.ASSEMBLYSCRIPT: "counter",
        Language.JAVASCRIPT: "var calls = 0;\nfunction handle() { calls += 1; return calls; }",
        Language.PYTHON: (
            "calls = 0\ndef handle(input):\n    global calls\n    calls += 1\n    return calls\n"
        ),
    },
}
LANGUAGES = [Language.ASSEMBLYSCRIPT, Language.JAVASCRIPT, Language.PYTHON]


def source_text(case: str, language: Language) -> str:
    """The source of a case as a user would register it."""
    source = CASES[case][language]
    if language is Language.ASSEMBLYSCRIPT:
        return (AS_FIXTURES / f"{source}.ts").read_text()
    return source
