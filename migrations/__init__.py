"""Numbered SQL migrations, applied in order under an advisory lock, recorded in a table."""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path

import psycopg

from broker.pgmq import create_queue
from contracts.queues import QUEUES
from infra.logs import event
from infra.pooler import refuse_transaction_pooler

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Any constant shared by every pnil process works; it serialises concurrent migrators.
ADVISORY_LOCK_KEY = 7_461_029_311


def migration_files() -> list[Path]:
    """The .sql files of this folder in the order they apply."""
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def _install_pgmq(conn: psycopg.Connection) -> str:
    """CREATE EXTENSION pgmq where the server has it and the role may, else the SQL install
    bundled with PyPI pgmq, run by the database owner (no superuser needed)."""
    installed = conn.execute("SELECT to_regclass('pgmq.meta') IS NOT NULL").fetchone()[0]
    if installed:
        return "present"
    available = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgmq'").fetchone()[0]
    if available:
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS pgmq")
            return "extension"
        except psycopg.errors.InsufficientPrivilege:
            pass  # pgmq is not a trusted extension: a plain owner installs its SQL instead
    with conn.transaction():
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


class SchemaNotCurrent(RuntimeError):
    """The database lacks migrations this code was built for; the message names them."""


def pending_migrations(conn: psycopg.Connection) -> list[str]:
    """The migrations of this code not yet applied to the database, in order."""
    if conn.execute("SELECT to_regclass('public.schema_migrations') IS NULL").fetchone()[0]:
        return [path.name for path in migration_files()]
    done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    return [path.name for path in migration_files() if path.name not in done]


def require_current_schema(dsn: str, process: str) -> None:
    """Refuse to start (SchemaNotCurrent) when a migration this code needs is missing.

    Migrations newer than this code are fine: during a rolling upgrade the release step has
    already migrated while processes of the previous release still run. A transaction-mode
    pooler in front of PostgreSQL is refused too (TransactionPooler, infra/pooler.py).
    """
    refuse_transaction_pooler(dsn, process)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        missing = pending_migrations(conn)
    if missing:
        raise SchemaNotCurrent(
            f"{process}: the database schema is not the one this release was built for: "
            f"migration {missing[0]} is missing ({len(missing)} pending: {', '.join(missing)}); "
            "run the release step (`python -m migrations`) first, then start the processes"
        )
