"""What `make run` prepares for the person at the terminal, kept in `.pnil/` (mode 0600 files).

- anonymous access (tenant `default`, never admin) when the server listens on loopback only;
- an admin key for the local operator, created once and reused while the database knows it;
- the key that encrypts secrets at rest (PNIL_SECRET_KEY), generated once.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

from infra.exposure import is_loopback
from infra.settings import anonymous_chosen, local_dir, secret_key_from, set_for_processes
from store import tenants

ADMIN_KEY_FILE = "admin-key"
SECRET_KEY_FILE = "secret-key"


def prepare(env: dict[str, str], project_root: Path) -> None:
    """Fill `env` for the Procfile processes and say on the terminal what was done."""
    directory = local_dir(env, project_root)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _anonymous_default(env)
    if secret_key_from(env) is None:
        key = _read_or_make(directory / SECRET_KEY_FILE, lambda: Fernet.generate_key().decode())
        set_for_processes(env, secret_key=key)
        print(f"==> secrets are encrypted with the key in {directory / SECRET_KEY_FILE}", flush=True)
    path = directory / ADMIN_KEY_FILE
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        known = path.exists() and _is_admin_key(conn, path.read_text().strip())
        if not known:
            _, key = tenants.create_key(
                conn, tenants.DEFAULT_TENANT_SLUG, name="local operator (make run)", admin=True
            )
            _write_private(path, key)
    print(
        f"==> the local operator's admin key is in {path} (the console's Operations page asks for it)",
        flush=True,
    )


def _anonymous_default(env: dict[str, str]) -> None:
    if anonymous_chosen(env) is not None:
        return
    host = env.get("HOST", "127.0.0.1")
    if not is_loopback((host, 0)):
        set_for_processes(env, allow_anonymous=False)
        print(f"==> anonymous access is OFF: the server listens on {host}; use API keys", flush=True)
        return
    set_for_processes(env, allow_anonymous=True)
    print(
        "==> anonymous access is ON for this local run (requests without an API key belong to the "
        "'default' tenant, without admin rights); set PNIL_ALLOW_ANONYMOUS=0 to turn it off",
        flush=True,
    )


def _is_admin_key(conn: psycopg.Connection, key: str) -> bool:
    principal = tenants.authenticate(conn, key)
    return principal is not None and principal.is_admin


def _read_or_make(path: Path, make) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    _write_private(path, value)
    return value


def _write_private(path: Path, value: str) -> None:
    """Write a file only its owner can read (created 0600, never briefly wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    path.chmod(0o600)
