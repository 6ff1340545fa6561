"""`python -m web.keys`: the real CLI as a subprocess against the test database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra.settings import Settings
from tests.conftest import PROJECT_ROOT
from web.app import create_app

ECHO = "export function handle(input: string): string { return input; }"


def keys(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "web.keys", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def secure_client(database_url):
    app = create_app(Settings(database_url=database_url, allow_anonymous=False))
    yield app.test_client()
    app.extensions["pnil.db"].close()


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_create_list_revoke(database_url, db, secure_client):
    # create: the key is the last line of the output
    created = keys(database_url, "create", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("pnil_")
    key_id = db.execute(
        "SELECT k.id FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE t.slug = 'acme'"
    ).fetchone()[0]
    assert str(key_id) in created.stdout

    # the key works against the API, for its tenant
    resp = secure_client.post(
        "/functions", json={"name": "f", "language": "assemblyscript", "source": ECHO}, headers=bearer(key)
    )
    assert resp.status_code == 201
    owner = db.execute("SELECT t.slug FROM functions f JOIN tenants t ON t.id = f.tenant_id").fetchone()
    assert owner == ("acme",)

    # list shows it, never the key text
    listed = keys(database_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert str(key_id) in listed.stdout
    assert "acme" in listed.stdout
    assert key not in listed.stdout
    assert key.removeprefix("pnil_") not in listed.stdout

    # revoke: the key then gets 401
    revoked = keys(database_url, "revoke", str(key_id))
    assert revoked.returncode == 0, revoked.stderr
    assert secure_client.get("/functions", headers=bearer(key)).status_code == 401
    assert keys(database_url, "revoke", str(key_id)).returncode == 1  # already revoked


def test_admin_key_opens_admin_endpoints(database_url, secure_client):
    admin = keys(database_url, "create", "--admin", "ops").stdout.strip().splitlines()[-1]
    plain = keys(database_url, "create", "ops").stdout.strip().splitlines()[-1]

    assert secure_client.get("/admin/queues", headers=bearer(admin)).status_code == 200
    assert secure_client.get("/admin/queues", headers=bearer(plain)).status_code == 403


def test_bad_arguments_say_what_is_wrong(database_url):
    bad_tenant = keys(database_url, "create", "Not A Slug!")
    assert bad_tenant.returncode == 2
    assert "tenant" in bad_tenant.stderr

    bad_id = keys(database_url, "revoke", "12")
    assert bad_id.returncode == 2
    assert "list" in bad_id.stderr
