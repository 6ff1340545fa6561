"""The README's examples, run as written against a real server: the function examples, the SDK
session, the manifest. A README edit that breaks one breaks this test."""

from __future__ import annotations

import hashlib
import json
import re

import requests
from pnil_client import Client

from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w+)\n(.*?)```", README, re.S)]


def block(language: str, containing: str) -> str:
    """The one code block of that language containing the text."""
    found = [text for lang, text in BLOCKS if lang == language and containing in text]
    assert len(found) == 1, f"{len(found)} {language} blocks contain {containing!r}"
    return found[0]


def deploy_and_run(client: Client, name: str, language: str, source: str, value: dict) -> dict:
    client.create_function(name, language, source)
    client.wait_ready(name)
    run = client.invoke(name, value)
    assert run.status == "COMPLETED", run.error_message
    return run.output


def test_the_function_examples_run_as_documented(server, tenant_key):
    with Client(server.url, tenant_key()) as client:
        echo = deploy_and_run(client, "as-echo", "assemblyscript", block("ts", "return input; }"), {"a": 1})
        ctx = deploy_and_run(client, "js-ctx", "javascript", block("js", "ranBy"), {})
        as_ctx = deploy_and_run(client, "as-ctx", "assemblyscript", block("ts", "return context()"), {})
        py = deploy_and_run(client, "py-hash", "python", block("python", "import hashlib"), {"name": "Ada"})

    assert echo == {"a": 1}
    assert ctx == {"ranBy": "API", "version": 1}  # trigger.type is the execution's triggerType
    assert as_ctx["trigger"]["type"] == "API"
    assert py == {"name": "Ada", "sha256": hashlib.sha256(b"Ada").hexdigest()}


def test_the_sdk_session_runs_as_documented(server, tenant_key, capsys):
    code = block("python", "from pnil_client import Client").replace(
        'Client("http://127.0.0.1:8080", api_key=None)', f"Client({server.url!r}, api_key={tenant_key()!r})"
    )

    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own example

    status, output = capsys.readouterr().out.splitlines()
    assert status in ("PENDING", "RUNNING", "COMPLETED") and output == "{'sum': 4}"


def test_the_compile_error_of_the_sdk_has_its_separator(server, tenant_key):
    with Client(server.url, tenant_key()) as client:
        client.create_function("broken", "javascript", "function handle(i) { return ; ; }}")
        try:
            client.wait_ready("broken")
        except Exception as exc:  # noqa: BLE001 - the documented CompileFailed
            text = str(exc)
    assert text.startswith("broken failed to compile: ") and "line" in text


def test_the_manifest_example_deploys(pnil, server, tenant_key, tmp_path):
    key = tenant_key()
    (tmp_path / "pnil.toml").write_text(block("toml", "[functions.hello]"))
    (tmp_path / "hello.js").write_text("function handle(req) { return {status: 200, body: 'hi'}; }\n")
    (tmp_path / "nightly.py").write_text("def handle(input, context=None):\n    return {}\n")

    deployed = pnil("--json", "deploy", key=key)

    assert deployed.returncode == 0, deployed.stderr
    assert [r["action"] for r in json.loads(deployed.stdout)] == ["create", "create"]
    tenant = requests.get(f"{server.url}/whoami", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert requests.get(f"{server.url}/http/{tenant.json()['tenant']}/hello", timeout=30).text == "hi"


def test_the_root_redirects_to_the_console_as_documented(server):
    root = requests.get(f"{server.url}/", allow_redirects=False, timeout=30)

    assert "`/` redirects to `/console`" in README and "`/` redirects to the\nconsole" in README
    assert root.status_code in (301, 302) and root.headers["Location"].endswith("/console")
