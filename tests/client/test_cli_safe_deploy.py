"""`pnil deploy` on the safe path, `check`, the lifecycle commands, login and finding the server,
piped output: through the installed entry point against a real server."""

from __future__ import annotations

import json
import os
import select
import subprocess
import uuid

import requests

from tests.client.conftest import PNIL

V1 = "function handle(i) { return {v: 1}; }\n"
V2 = "function handle(i) { return {v: 2}; }\n"
BROKEN = "function handle(i) {\n  return {v: 3 ;\n}\n"


def _name() -> str:
    return f"safe-{uuid.uuid4().hex[:8]}"


def test_a_deploy_that_does_not_compile_leaves_the_live_version_serving(pnil, tmp_path):
    name = _name()
    path = tmp_path / f"{name}.js"
    path.write_text(V1)
    assert pnil("deploy", str(path)).returncode == 0
    path.write_text(BROKEN)

    broken = pnil("deploy", str(path))
    still = pnil("invoke", name)
    shown = json.loads(pnil("--json", "show", name).stdout)
    path.write_text(V2)
    fixed = pnil("deploy", str(path))

    assert broken.returncode == 1
    assert "version 2 FAILED to compile; version 1 is still serving" in broken.stderr
    assert f"{path}:2:" in broken.stderr  # the offending line with a caret
    assert json.loads(still.stdout) == {"v": 1}
    assert (shown["status"], shown["version"], shown["pendingVersion"]["status"]) == ("READY", 1, "FAILED")
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(pnil("invoke", name).stdout) == {"v": 2}


def test_replace_is_the_plain_put(pnil, tmp_path):
    name = _name()
    path = tmp_path / f"{name}.js"
    path.write_text(V1)
    assert pnil("deploy", str(path)).returncode == 0
    path.write_text(BROKEN)

    replaced = pnil("--json", "deploy", str(path), "--replace")

    assert replaced.returncode == 1
    assert json.loads(replaced.stdout)["status"] == "FAILED"


def test_check_compiles_without_deploying(pnil, tmp_path):
    (tmp_path / "good.js").write_text(V1)
    (tmp_path / "bad.js").write_text(BROKEN)

    good = pnil("check", "good.js")
    bad = pnil("check", "bad.js")
    as_json = pnil("--json", "check", "bad.js")

    assert good.returncode == 0 and "compiles" in good.stderr
    assert bad.returncode == 1 and "bad.js:2:" in bad.stderr and "^" in bad.stderr
    assert json.loads(as_json.stdout)["status"] == "FAILED" and as_json.returncode == 1
    assert json.loads(pnil("--json", "ls", "--name", "good").stdout) == []


def test_every_api_field_has_a_flag_and_an_http_function_prints_its_url(pnil, server, tmp_path):
    name = _name()
    path = tmp_path / "web.js"
    path.write_text("function handle(req) { return {status: 200, body: {hi: req.method}}; }\n")

    deployed = pnil(
        "deploy", str(path), "--name", name, "--http", f"/{name}", "--methods", "post", "--http-auth", "none",
        "--allowed-hosts", "example.com,*.example.org", "--tag", "web", "--tag", "demo",
        "--meta", "team=payments", "--description", "says hi", "--limit", "maxExecutionTimeMs=2000",
    )  # fmt: skip

    assert deployed.returncode == 0, deployed.stderr
    url = f"{server.url}/http/acme/{name}"
    assert deployed.stdout.strip() == f"{name}: {url}"
    fn = json.loads(pnil("--json", "show", name).stdout)
    assert fn["allowedHosts"] == ["example.com", "*.example.org"] and fn["tags"] == ["web", "demo"]
    assert (fn["metadata"], fn["description"], fn["httpAuth"]) == ({"team": "payments"}, "says hi", "none")
    assert requests.post(url, timeout=30).json() == {"hi": "POST"}


def test_deploying_another_language_over_a_function_needs_language(pnil, tmp_path):
    name = _name()
    (tmp_path / f"{name}.js").write_text(V1)
    (tmp_path / f"{name}.py").write_text("def handle(input, context=None):\n    return {'v': 'py'}\n")
    assert pnil("deploy", f"{name}.js").returncode == 0

    refused = pnil("deploy", f"{name}.py")
    switched = pnil("deploy", f"{name}.py", "--language", "python")

    assert refused.returncode == 2 and "--language python" in refused.stderr
    assert json.loads(pnil("--json", "show", name).stdout)["language"] == "python"
    assert switched.returncode == 0 and json.loads(pnil("invoke", name).stdout) == {"v": "py"}


def test_pause_resume_state_and_cancel(pnil, tmp_path):
    name = _name()
    (tmp_path / f"{name}.js").write_text(V1)
    assert pnil("deploy", f"{name}.js").returncode == 0

    paused = json.loads(pnil("--json", "pause", name).stdout)
    refused = pnil("invoke", name)
    state = pnil("state", name)
    resumed = json.loads(pnil("--json", "resume", name).stdout)
    disabled = json.loads(pnil("--json", "state", name, "disabled").stdout)
    missing = pnil("cancel", str(uuid.uuid4()))

    assert paused["state"] == "PAUSED" and refused.returncode == 3
    assert state.stdout.startswith(f"{name} is PAUSED (can go to: ")
    assert resumed["state"] == "ACTIVE" and disabled["state"] == "DISABLED"
    assert missing.returncode == 3 and "not found" in missing.stderr


def test_cancel_a_queued_execution(pnil, server, tmp_path):
    name = _name()
    (tmp_path / f"{name}.js").write_text("function handle(i) { while (true) {} }\n")
    assert pnil("deploy", f"{name}.js", "--limit", "maxExecutionTimeMs=20000").returncode == 0
    headers = {"Authorization": f"Bearer {server.key}"}
    queued = requests.post(
        f"{server.url}/functions/{name}/executions", json={"input": {}}, headers=headers, timeout=30
    )

    cancelled = pnil("--json", "cancel", queued.json()["id"])

    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "CANCELLED"


def test_login_without_a_terminal_and_the_server_make_run_wrote_down(pnil, server, tmp_path):
    xdg = tmp_path / "xdg"
    (xdg / "pnil").mkdir(parents=True)
    (xdg / "pnil" / "local-server.json").write_text(json.dumps({"url": server.url, "pid": os.getpid()}))

    found = pnil("--json", "ls", PNIL_URL=None, XDG_CONFIG_HOME=str(xdg))
    login = pnil("login", input="", PNIL_URL=None, XDG_CONFIG_HOME=str(xdg))

    assert found.returncode == 0, found.stderr
    assert login.returncode == 0, login.stderr
    assert json.loads((tmp_path / "cfg.json").read_text()) == {"url": server.url, "api_key": server.key}


def test_piped_output_is_whole_and_a_diff_is_a_valid_patch(pnil, tmp_path):
    name = _name()
    path = tmp_path / f"{name}.js"
    path.write_text(V1)
    assert pnil("deploy", str(path)).returncode == 0
    (tmp_path / "v1.js").write_text(V1)
    path.write_text(V2)
    assert pnil("deploy", str(path)).returncode == 0

    patch = pnil("diff", name, "1", "2").stdout
    listed = pnil("ls", "--name", name).stdout.splitlines()
    versions = pnil("versions", name).stdout.splitlines()
    (tmp_path / "x.patch").write_text(patch)
    applied = subprocess.run(["patch", "v1.js", "x.patch"], cwd=tmp_path, capture_output=True, text=True)

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert (tmp_path / "v1.js").read_text() == V2
    fn = json.loads(pnil("--json", "show", name).stdout)
    assert listed[1].split("\t") == [name, "javascript", "ONEOFF", "READY", "ACTIVE", "2", fn["id"]]
    assert versions[0].split("\t")[0] == "VERSION" and len(versions[1].split("\t")[3]) >= 19  # whole time
    assert json.loads(pnil("--json", "new", "starter").stdout) == {"file": "starter.js"}


def test_logs_follow_with_n_1_shows_the_last_then_only_new_ones(pnil, server, tmp_path):
    name = _name()
    (tmp_path / f"{name}.js").write_text("function handle(i) { console.log('n=' + i.n); return i; }\n")
    assert pnil("deploy", f"{name}.js").returncode == 0
    for n in (1, 2, 3):
        assert pnil("invoke", name, "--input", json.dumps({"n": n})).returncode == 0
    env = dict(os.environ, PNIL_URL=server.url, PNIL_API_KEY=server.key)
    follower = subprocess.Popen(
        [PNIL, "--json", "logs", name, "--follow", "-n", "1", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = _line(follower)
        assert pnil("invoke", name, "--input", '{"n": 4}').returncode == 0
        second = _line(follower)
    finally:
        follower.kill()
        follower.wait()

    assert "n=3" in first["logs"]
    assert "n=4" in second["logs"]  # not n=1 or n=2 replayed as new


def _line(proc) -> dict:
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready, "pnil logs --follow printed nothing within 30 s"
    return json.loads(proc.stdout.readline())
