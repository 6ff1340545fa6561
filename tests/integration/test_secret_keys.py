"""The secrets key: rotation while executions read secrets; processes refuse to start without it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid

import psycopg

from infra.secretbox import SecretBox, SecretKeyError, new_key
from store import secrets as secret_store
from store.tenants import DEFAULT_TENANT_ID
from tests.conftest import PROJECT_ROOT
from tests.integration.execute_helpers import execute, running_api, wait_compiled
from tests.integration.test_anonymous_bind import gunicorn

OLD, NEW = new_key(), new_key()
READER = """
function handle(input) {
  return input.names.map((n) => pnil.secrets.get(n).split('').reverse().join('') === input.reversed[n]);
}
"""


def rotate(database_url: str, **keys: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PNIL_SECRET_KEY")}
    env.update(DATABASE_URL=database_url, **keys)
    return subprocess.run(
        [sys.executable, "-m", "web.secrets", "rotate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rotation_while_executions_read_secrets(server_url, template_url):
    values = {f"S{i}": f"value-{i}-{uuid.uuid4().hex}" for i in range(3)}
    with running_api(server_url, secret_key=NEW, secret_keys_previous=(OLD,)) as app:
        url = app.config["TEST_DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as conn:  # written before the rotation began
            for name, value in values.items():
                secret_store.put(conn, DEFAULT_TENANT_ID, name, SecretBox(OLD).encrypt(value))
        client = app.test_client()
        body = {"name": "reader", "language": "javascript", "source": READER, "secrets": list(values)}
        fid = client.post("/functions", json=body).get_json()["id"]
        assert wait_compiled(client, [fid])[fid]["status"] == "READY"
        payload = {"names": list(values), "reversed": {n: v[::-1] for n, v in values.items()}}
        outcomes: list[dict] = []
        stop = threading.Event()

        def keep_executing():
            runner = app.test_client()
            while not stop.is_set() or len(outcomes) < 3:
                outcomes.append(execute(runner, fid, payload))

        thread = threading.Thread(target=keep_executing)
        thread.start()
        try:
            done = rotate(url, PNIL_SECRET_KEY=NEW, PNIL_SECRET_KEY_PREVIOUS=OLD)
        finally:
            stop.set()
            thread.join(60)
        after = execute(client, fid, payload)

        assert done.returncode == 0, done.stderr
        assert "rotated 3 secret(s)" in done.stdout
        assert all(o["status"] == "COMPLETED" and o["output"] == [True] * 3 for o in outcomes + [after])
        with psycopg.connect(url) as conn:
            tokens = [token for _, _, token in secret_store.every_token(conn)]
        assert sorted(SecretBox(NEW).decrypt(t) for t in tokens) == sorted(values.values())
        for token in tokens:
            try:
                SecretBox(OLD).decrypt(token)
            except SecretKeyError:
                continue
            raise AssertionError("a secret is still readable with the old key")


def test_rotation_without_the_key_that_opens_them_says_so(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        secret_store.put(conn, DEFAULT_TENANT_ID, "S", SecretBox(OLD).encrypt("v"))

    done = rotate(database_url, PNIL_SECRET_KEY=NEW)

    assert done.returncode == 2 and "no configured key opens this secret" in done.stderr


def test_processes_refuse_to_start_without_the_key_once_secrets_exist(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        secret_store.put(conn, DEFAULT_TENANT_ID, "S", SecretBox(OLD).encrypt("v"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PNIL_SECRET_KEY")}
    env["DATABASE_URL"] = database_url

    web = gunicorn(database_url)
    web_out, _ = web.communicate(timeout=90)
    wrong = gunicorn(database_url, PNIL_SECRET_KEY=NEW)
    wrong_out, _ = wrong.communicate(timeout=90)
    executor = subprocess.run(
        [sys.executable, "-m", "broker", "worker", "tasks:broker", "executions", "--name", "executor"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert web.returncode != 0 and "secrets are stored but PNIL_SECRET_KEY is not set" in web_out
    assert wrong.returncode != 0 and "no configured key opens this secret" in wrong_out
    assert executor.returncode != 0
    assert "secrets are stored but PNIL_SECRET_KEY is not set" in executor.stdout + executor.stderr
