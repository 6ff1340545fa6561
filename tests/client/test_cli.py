"""The `pnil` command through its installed entry point, against a real server."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import time
import uuid

from tests.client.conftest import PNIL


def _name() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


def test_new_deploy_invoke_and_logs(pnil, tmp_path):
    name = _name()
    assert pnil("new", name, "--lang", "js").returncode == 0

    deployed = pnil("deploy", f"{name}.js")
    invoked = pnil("invoke", name, "--input", '{"name": "Ada"}')
    piped = pnil("--json", "invoke", name, "--input", "-", input='{"name": "Grace"}')
    logs = pnil("logs", name)

    assert deployed.returncode == 0, deployed.stderr
    assert "READY" in deployed.stderr
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"hello": "Ada"}
    assert json.loads(piped.stdout)["output"] == {"hello": "Grace"}
    assert logs.returncode == 0 and "triggered by API" in logs.stdout and "COMPLETED" in logs.stdout


def test_a_python_starter_deploys_and_runs_and_its_syntax_error_gets_a_caret(pnil, tmp_path):
    name = _name()
    assert pnil("new", name, "--lang", "py").returncode == 0

    deployed = pnil("deploy", f"{name}.py")
    invoked = pnil("invoke", name, "--input", '{"name": "Ada"}')
    (tmp_path / "broken.py").write_text("def handle(input):\n    return (1 +)\n")
    broken = pnil("deploy", "broken.py", "--name", _name())

    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(invoked.stdout) == {"hello": "Ada"}
    assert broken.returncode == 1
    lines = broken.stderr.splitlines()
    shown = next(i for i, line in enumerate(lines) if line.startswith("2 |     return (1 +)"))
    assert lines[shown + 1] == " " * (len("2 | ") + 15) + "^"


def test_a_compile_error_exits_1_with_the_line_and_a_caret(pnil, tmp_path):
    source = tmp_path / "broken.ts"
    source.write_text(
        'export function handle(input: string): string {\n  let x: i32 = "s";\n  return input;\n}\n'
    )

    result = pnil("deploy", str(source), "--name", _name())

    assert result.returncode == 1
    assert "TS2322" in result.stderr
    lines = result.stderr.splitlines()
    shown = next(i for i, line in enumerate(lines) if line.startswith('2 |   let x: i32 = "s";'))
    assert lines[shown + 1] == " " * (len("2 | ") + 15) + "^"
    assert f"{source}:2:16" in result.stderr


def test_redeploy_versions_diff_rollback_with_json_output(pnil, tmp_path):
    name = _name()
    path = tmp_path / f"{name}.js"
    path.write_text("function handle(i) { return {v: 1}; }\n")
    assert pnil("deploy", str(path)).returncode == 0
    path.write_text("function handle(i) { return {v: 2}; }\n")
    assert pnil("deploy", str(path), "-m", "second").returncode == 0

    versions = json.loads(pnil("--json", "versions", name).stdout)
    diff = pnil("diff", name, "1", "2")
    rolled = json.loads(pnil("--json", "rollback", name, "1").stdout)
    shown = json.loads(pnil("--json", "show", name).stdout)
    listed = json.loads(pnil("--json", "ls", "--name", name).stdout)

    assert [(v["number"], v["changeDescription"]) for v in versions] == [(2, "second"), (1, "created")]
    assert "+function handle(i) { return {v: 2}; }" in diff.stdout
    assert (rolled["version"], rolled["status"]) == (3, "READY")
    assert shown["source"] == "function handle(i) { return {v: 1}; }\n"
    assert [f["name"] for f in listed] == [name]
    assert json.loads(pnil("invoke", name).stdout) == {"v": 1}


def test_triggers_and_limits_from_flags(pnil, tmp_path):
    path = tmp_path / "tick.js"
    path.write_text("function handle(i, c) { return c.trigger; }\n")

    cron = pnil(
        "--json",
        "deploy",
        str(path),
        "--name",
        _name(),
        "--cron",
        "*/5 * * * *",
        "--limit",
        "maxExecutionTimeMs=2000",
    )
    http = pnil(
        "--json", "deploy", str(path), "--name", _name(), "--http", f"/{_name()}", "--methods", "post"
    )
    bad = pnil("deploy", str(path), "--limit", "maxExecutionTimeMs=soon")

    assert cron.returncode == 0, cron.stderr
    fn = json.loads(cron.stdout)
    assert (fn["type"], fn["cronExpression"], fn["resourceLimits"]["maxExecutionTimeMs"]) == (
        "SCHEDULED",
        "*/5 * * * *",
        2000,
    )
    assert json.loads(http.stdout)["httpMethods"] == ["POST"]
    assert bad.returncode == 2 and "NAME=INTEGER" in bad.stderr


def test_failures_exit_with_documented_codes(pnil, server):
    missing = pnil("invoke", f"nobody-{uuid.uuid4().hex[:6]}")
    not_admin = pnil("queues")
    unreachable = subprocess.run(
        [PNIL, "--url", "http://127.0.0.1:9", "ls"], capture_output=True, text=True, timeout=60
    )

    assert missing.returncode == 3 and "not found" in missing.stderr
    assert not_admin.returncode == 3 and "admin" in not_admin.stderr
    assert unreachable.returncode == 4 and "make run" in unreachable.stderr


def test_a_failing_execution_exits_1(pnil, tmp_path):
    name = _name()
    (tmp_path / f"{name}.js").write_text("function handle(i) { throw new Error('nope'); }\n")
    assert pnil("deploy", f"{name}.js").returncode == 0

    result = pnil("invoke", name)

    assert result.returncode == 1 and "FAILED" in result.stderr and "nope" in result.stderr


def test_login_saves_url_and_key_readable_only_by_the_owner(pnil, server, tmp_path):
    result = pnil("login", "--url", server.url, "--api-key", server.key)
    config = tmp_path / "cfg.json"

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": server.url, "api_key": server.key}
    wrong = pnil("login", "--url", server.url, "--api-key", "pnil_wrong")
    assert wrong.returncode == 3 and json.loads(config.read_text())["api_key"] == server.key


def test_admin_queues_and_keys(pnil, server):
    queues = pnil("--json", "queues", key=server.admin_key)
    created = pnil("--json", "keys", "create", f"t{uuid.uuid4().hex[:6]}", key=server.admin_key)

    assert {"compilation_jobs", "executions"} <= {q["queue"] for q in json.loads(queues.stdout)}
    new = json.loads(created.stdout)
    assert pnil("ls", key=new["key"]).returncode == 0
    assert pnil("keys", "revoke", new["id"], key=server.admin_key).returncode == 0
    assert pnil("ls", key=new["key"]).returncode == 3
    reader = pnil(
        "--json",
        "keys",
        "create",
        "acme",
        "--scope",
        "read",
        "--expires",
        "2099-01-01T00:00:00Z",
        key=server.admin_key,
    )
    made = json.loads(reader.stdout)
    assert made["scopes"] == ["read"] and made["expiresAt"].startswith("2099")
    assert pnil("ls", key=made["key"]).returncode == 0
    assert pnil("secrets", "set", "NOPE", input="v", key=made["key"]).returncode == 3  # read: GETs only


def test_logs_follow_prints_new_executions_as_they_finish(pnil, server, tmp_path):
    name = _name()
    (tmp_path / f"{name}.js").write_text("function handle(i) { console.log('seen ' + i.n); return i; }\n")
    assert pnil("deploy", f"{name}.js").returncode == 0
    env = dict(os.environ, PNIL_URL=server.url, PNIL_API_KEY=server.key)
    follower = subprocess.Popen(
        [PNIL, "--json", "logs", name, "--follow", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # let it read the (empty) history first
        assert pnil("invoke", name, "--input", '{"n": 7}').returncode == 0
        ready, _, _ = select.select([follower.stdout], [], [], 30)
        assert ready, "pnil logs --follow printed nothing within 30 s"
        line = follower.stdout.readline()  # one JSON object per finished execution
    finally:
        follower.kill()
        follower.wait()
    assert "seen 7" in json.loads(line)["logs"]


def test_secrets_set_from_stdin_list_and_remove_never_show_the_value(pnil, server):
    name, value = f"CLI_{uuid.uuid4().hex[:6].upper()}", f"v-{uuid.uuid4().hex}"

    first = pnil("secrets", "set", name, input=value + "\n")
    second = pnil("--json", "secrets", "set", name, input=value)
    listed = pnil("--json", "secrets", "ls")
    human = pnil("secrets", "ls")

    assert first.returncode == 0, first.stderr
    assert f"set {name} (version 1)" in first.stderr
    assert json.loads(second.stdout)["version"] == 2
    assert {"name": name, "version": 2}.items() <= next(
        s for s in json.loads(listed.stdout) if s["name"] == name
    ).items()
    assert name in human.stdout
    for result in (first, second, listed, human):
        assert value not in result.stdout + result.stderr
    assert pnil("secrets", "set", name, input="").returncode == 2
    assert pnil("secrets", "rm", name).returncode == 0
    assert pnil("secrets", "rm", name).returncode == 3
    assert "value" not in " ".join(p.name for p in _set_params())


def _set_params():
    from pnil_client.cli.secrets import set_secret

    return set_secret.params
