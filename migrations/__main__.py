"""`python -m migrations`: apply migrations to DATABASE_URL (or the embedded database)."""

import os

from psycopg.conninfo import make_conninfo

from infra.embedded_postgres import resolve_database_url
from infra.logs import configure_logging
from infra.pooler import refuse_transaction_pooler
from infra.settings import log_format_from, log_level_from
from migrations import apply_migrations

if __name__ == "__main__":
    configure_logging("migrate", log_level_from(os.environ), log_format_from(os.environ))
    url = make_conninfo(resolve_database_url(), application_name="pnil-migrate")
    # The migrations' advisory lock is a session lock: refuse a transaction pooler first.
    refuse_transaction_pooler(url, "release")
    applied = apply_migrations(url)
    print(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
