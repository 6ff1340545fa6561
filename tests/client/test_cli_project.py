"""pnil.toml through the installed `pnil`: deploy makes the server match, export reproduces, dev
redeploys on save. Each test has a tenant of its own (prune looks at every function)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time

import requests

from tests.client.conftest import PNIL
from tests.integration.conftest import wait_for

HELLO = "function handle(req) { return {status: 200, body: {hello: req.method}}; }\n"
TICK = "def handle(input, context=None):\n    return {'tick': context['trigger']['type']}\n"
MANIFEST = """
[functions.hello]
file = "hello.js"
type = "HTTP"
httpPath = "/hello"
httpMethods = ["GET"]
allowedHosts = ["example.com"]
tags = ["web"]

[functions.tick]
file = "tick.py"
type = "SCHEDULED"
cronExpression = "0 3 * * *"
resourceLimits = { maxExecutionTimeMs = 2000 }
"""


def project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "hello.js").write_text(HELLO)
    (root / "tick.py").write_text(TICK)
    (root / "pnil.toml").write_text(MANIFEST)
    return root


def test_deploy_makes_the_server_match_and_changes_only_what_changed(pnil, server, tenant_key, tmp_path):
    key, root = tenant_key(), project(tmp_path)
    assert pnil("deploy", "extra.js", key=key, cwd=root).returncode == 2  # no such file: usage error
    (root / "extra.js").write_text(HELLO.replace("hello", "extra"))
    assert pnil("deploy", "extra.js", "--name", "extra", key=key, cwd=root).returncode == 0

    first = pnil("deploy", key=key, cwd=root)
    again = pnil("deploy", "--dry-run", key=key, cwd=root)
    (root / "tick.py").write_text(TICK + "# edited\n")
    planned = pnil("--json", "deploy", "--dry-run", "--prune", key=key, cwd=root)
    second = pnil("--json", "deploy", "--prune", key=key, cwd=root)

    assert first.returncode == 0, first.stderr
    assert "created hello" in first.stderr and "created tick" in first.stderr
    tenant = requests.get(f"{server.url}/whoami", headers={"Authorization": f"Bearer {key}"}).json()["tenant"]
    assert f"hello: {server.url}/http/{tenant}/hello" in first.stdout
    assert again.stdout.splitlines() == ["= unchanged hello", "= unchanged tick"]
    assert json.loads(planned.stdout) == [
        {"action": "unchanged", "name": "hello", "changes": []},
        {"action": "update", "name": "tick", "changes": ["source"]},
        {"action": "delete", "name": "extra", "changes": []},
    ]
    assert second.returncode == 0, second.stderr
    done = {r["name"]: r for r in json.loads(second.stdout)}
    assert (done["hello"]["version"], done["tick"]["version"]) == (1, 2)
    listed = json.loads(pnil("--json", "ls", key=key).stdout)
    assert sorted(f["name"] for f in listed) == ["hello", "tick"]
    tick = next(f for f in listed if f["name"] == "tick")
    assert (tick["type"], tick["cronExpression"], tick["resourceLimits"]["maxExecutionTimeMs"]) == (
        "SCHEDULED",
        "0 3 * * *",
        2000,
    )
    assert requests.get(f"{server.url}/http/{tenant}/hello", timeout=30).json() == {"hello": "GET"}


def test_a_manifest_error_points_at_its_line(pnil, tenant_key, tmp_path):
    root = project(tmp_path)
    (root / "pnil.toml").write_text(MANIFEST.replace('tags = ["web"]', 'tags = "web"'))

    result = pnil("deploy", key=tenant_key(), cwd=root)

    assert result.returncode == 2
    assert "pnil.toml:8: function 'hello': tags must be a list" in result.stderr


def test_a_function_that_fails_to_compile_keeps_serving_and_fails_the_deploy(pnil, tenant_key, tmp_path):
    key, root = tenant_key(), project(tmp_path)
    assert pnil("deploy", key=key, cwd=root).returncode == 0
    (root / "tick.py").write_text("def handle(input:\n")

    result = pnil("deploy", key=key, cwd=root)

    assert result.returncode == 1
    assert "tick: compile error, the serving version stays" in result.stderr
    assert json.loads(pnil("--json", "invoke", "tick", key=key).stdout)["output"] == {"tick": "API"}


def test_export_then_deploy_reproduces_the_functions_elsewhere(pnil, tenant_key, tmp_path):
    source_key, target_key, root = tenant_key(), tenant_key(), project(tmp_path)
    assert pnil("deploy", key=source_key, cwd=root).returncode == 0
    assert pnil("state", "tick", "paused", key=source_key).returncode == 0

    exported = pnil("export", "out", key=source_key)
    deployed = pnil("deploy", key=target_key, cwd=tmp_path / "out")

    assert exported.returncode == 0, exported.stderr
    assert deployed.returncode == 0, deployed.stderr
    volatile = {"id", "createdAt", "updatedAt", "createdBy", "nextRunAt", "state", "allowedTransitions"}
    for name in ("hello", "tick"):
        a = json.loads(pnil("--json", "show", name, key=source_key).stdout)
        b = json.loads(pnil("--json", "show", name, key=target_key).stdout)
        assert {k: v for k, v in a.items() if k not in volatile} == {
            k: v for k, v in b.items() if k not in volatile
        }
    assert (
        pnil("--json", "deploy", "--dry-run", key=target_key, cwd=tmp_path / "out").stdout.count(
            '"unchanged"'
        )
        == 2
    )


def test_dev_redeploys_on_save_on_the_safe_path(server, tenant_key, tmp_path):
    key, root = tenant_key(), project(tmp_path)
    env = dict(os.environ, PNIL_URL=server.url, PNIL_API_KEY=key, PNIL_CONFIG=str(tmp_path / "c.json"))
    headers = {"Authorization": f"Bearer {key}"}

    def hello() -> dict:
        return requests.get(f"{server.url}/functions/hello", headers=headers, timeout=30).json()

    dev = subprocess.Popen(
        [PNIL, "dev", "--interval", "0.2"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: hello().get("status") == "READY", timeout=120)
        time.sleep(0.1)  # a later modification time than the first look at the files
        (root / "hello.js").write_text(HELLO.replace("hello:", "again:"))
        wait_for(lambda: hello().get("version") == 2 and hello()["status"] == "READY", timeout=120)
        tenant = requests.get(f"{server.url}/whoami", headers=headers, timeout=30).json()["tenant"]
        assert requests.get(f"{server.url}/http/{tenant}/hello", timeout=30).json() == {"again": "GET"}
        tailed = _line_with(dev.stdout, "COMPLETED")  # the logs of its functions' executions
        (root / "hello.js").write_text("function handle(req) { return {status: ; }\n")
        wait_for(lambda: (hello().get("pendingVersion") or {}).get("status") == "FAILED", timeout=120)
        serving = hello()
    finally:
        dev.terminate()
        dev.wait(30)

    assert (serving["version"], serving["status"]) == (2, "READY")
    assert "again:" in serving["source"]
    assert tailed.startswith("hello COMPLETED") and " HTTP v2 " in tailed


def _line_with(stream, text: str, timeout: float = 60.0) -> str:
    """The first line of a process's output that contains `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1.0)
        if ready:
            line = stream.readline().decode()
            if text in line:
                return line.strip()
    raise AssertionError(f"no line with {text!r} within {timeout} s")
