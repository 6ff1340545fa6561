"""Numbered SQL migrations, applied in order under an advisory lock, recorded in a table."""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path

import psycopg

from broker.broker import create_queue
from infra.logs import event
from tasks.contracts import QUEUES

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Any constant shared by every pnil process works; it serialises concurrent migrators.
ADVISORY_LOCK_KEY = 7_461_029_311


def migration_files() -> list[Path]:
    """The .sql files of this folder in the order they apply."""
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def _install_pgmq(conn: psycopg.Connection) -> str:
    """CREATE EXTENSION pgmq where the server has it, else the SQL install bundled with PyPI pgmq."""
    installed = conn.execute("SELECT to_regclass('pgmq.meta') IS NOT NULL").fetchone()[0]
    if installed:
        return "present"
    available = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgmq'").fetchone()[0]
    with conn.transaction():
        if available:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgmq")
            return "extension"
        sql = files("pgmq").joinpath("sql", "pgmq.sql").read_text(encoding="utf-8")
        conn.execute(sql)
    return "bundled-sql"


def apply_migrations(dsn: str, *, before: str | None = None) -> list[str]:
    """Install pgmq, apply pending migrations and create the queues; return what was applied.

    `before` (a file name): apply only the migrations that sort before it (tests of a migration
    on a database filled by the schema before it).
    """
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            how = _install_pgmq(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            for path in migration_files():
                if path.name in done or (before is not None and path.name >= before):
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                applied.append(path.name)
            for queue in QUEUES:
                create_queue(conn, queue)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    event(log, "migrations.applied", applied=applied, pgmq=how)
    return applied
