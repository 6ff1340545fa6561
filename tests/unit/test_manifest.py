"""pnil.toml: reading with the line of each problem, the deploy plan, writing it back."""

from __future__ import annotations

import tomllib

import pytest
from pnil_client import manifest
from pnil_client.cli.project import plan
from pnil_client.models import Function


def write(tmp_path, text: str, **files: str):
    for name, source in files.items():
        (tmp_path / name.replace("_", ".")).write_text(source)
    path = tmp_path / "pnil.toml"
    path.write_text(text)
    return path


def test_functions_are_read_with_language_by_extension_and_fields_passed_through(tmp_path):
    path = write(
        tmp_path,
        '[functions.hello]\nfile = "hello.js"\ntype = "HTTP"\nhttpPath = "/hello"\n'
        'retryPolicy = { maxAttempts = 3 }\n\n[functions.tick]\nfile = "tick.py"\n'
        "[functions.tick.resourceLimits]\nmaxExecutionTimeMs = 2000\n",
        hello_js="function handle(i) { return i; }\n",
        tick_py="def handle(input, context=None):\n    return input\n",
    )

    hello, tick = manifest.load(path)

    assert (hello.name, hello.language, hello.line) == ("hello", "javascript", 1)
    assert hello.fields == {"type": "HTTP", "httpPath": "/hello", "retryPolicy": {"maxAttempts": 3}}
    assert (tick.language, tick.fields, tick.line) == (
        "python",
        {"resourceLimits": {"maxExecutionTimeMs": 2000}},
        7,
    )


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ('[functions.a]\nfile = "a.js"\ntags = "x"\n', ":3:", "tags must be a list"),
        ('[functions.a]\nfile = "missing.js"\n', ":2:", "cannot read missing.js"),
        ('[functions.a]\ntype = "HTTP"\n', ":1:", 'needs file = "PATH"'),
        ('[functions.a]\nfile = "a.txt"\n', ":2:", "cannot tell the language"),
        ('[functions.a]\nfile = "a.js"\n\n[functionz.b]\nfile = "a.js"\n', ":4:", "unknown section"),
        ('[functions.a]\nfile = "a.js"\nresourceLimits = 5\n', ":3:", "resourceLimits must be a table"),
        ('[functions.a]\nfile = "a.js"\ntype = HTTP\n', ":3:", "Invalid value"),
    ],
)
def test_problems_name_their_line(tmp_path, text, where, says):
    path = write(tmp_path, text, a_js="function handle(i) { return i; }\n", a_txt="x")

    with pytest.raises(manifest.ManifestError) as caught:
        manifest.load(path)

    assert f"{path}{where}" in str(caught.value) and says in str(caught.value)


def test_export_text_reads_back_the_same_fields():
    fields = {
        "description": 'says "hi"\nin two lines',
        "type": "SCHEDULED",
        "cronExpression": "*/5 * * * *",
        "resourceLimits": {"maxExecutionTimeMs": 2000, "maxMemoryBytes": 67108864},
        "tags": ["a", "b"],
        "metadata": {"team name": "payments"},
        "allowedHosts": [],
    }

    text = manifest.dumps([("odd name", "odd_name.js", fields)])

    assert tomllib.loads(text)["functions"]["odd name"] == {"file": "odd_name.js", **fields}
    assert manifest.file_name("a/b c", "python") == "a_b_c.py"


def test_plan_creates_updates_by_content_leaves_the_rest_and_prunes(tmp_path):
    path = write(
        tmp_path,
        '[functions.same]\nfile = "s.js"\nresourceLimits = { maxExecutionTimeMs = 2000 }\n'
        '[functions.edited]\nfile = "e.js"\n[functions.retagged]\nfile = "s.js"\ntags = ["new"]\n'
        '[functions.fresh]\nfile = "s.js"\n',
        s_js="function handle(i) { return i; }\n",
        e_js="function handle(i) { return 2; }\n",
    )
    same_source = "function handle(i) { return i; }\n"
    limits = {"maxExecutionTimeMs": 2000, "maxMemoryBytes": 67108864}
    server = [
        _fn("same", same_source, resourceLimits=limits),
        _fn("edited", "function handle(i) { return 1; }\n"),
        _fn("retagged", same_source, tags=["old"]),
        _fn("other", same_source),
    ]

    steps = plan(manifest.load(path), server, prune=True)

    assert [(s.action, s.name, s.changes) for s in steps] == [
        ("unchanged", "same", []),
        ("update", "edited", ["source"]),
        ("update", "retagged", ["tags"]),
        ("create", "fresh", ["new"]),
        ("delete", "other", []),
    ]
    assert [s.action for s in plan(manifest.load(path), server, prune=False)][-1] == "create"


def _fn(name: str, source: str, **fields) -> Function:
    return Function.from_json({"id": name, "name": name, "language": "javascript", "source": source} | fields)
