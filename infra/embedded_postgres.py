"""The project-local PostgreSQL used when DATABASE_URL is not set (pgserver, works as root)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from infra.settings import pgdata_from

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".pgdata"


def start_embedded(data_dir: Path = DEFAULT_DATA_DIR, *, keep_running: bool = False):
    """Start (or attach to) the embedded server in data_dir and return the pgserver handle.

    With keep_running=False the server stops when the last process that attached exits.
    """
    import pgserver  # imported here: only the local run and tests need it

    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")


def data_dir_from(env: Mapping[str, str]) -> Path:
    """The setting PNIL_PGDATA, else .pgdata in the checkout."""
    return pgdata_from(env) or DEFAULT_DATA_DIR


def resolve_database_url(env: dict[str, str] | None = None) -> str:
    """DATABASE_URL when set, else the embedded server's URL (starting it if needed)."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return url
    return start_embedded(data_dir_from(env)).get_uri()
