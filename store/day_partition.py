"""Naming an execution's day partition in the hot paths' statements.

A generic plan of an UPDATE or SELECT on the partitioned `executions` locks (and, for an UPDATE,
sets up) every partition before it prunes to one (PostgreSQL 16): per statement, tens of µs of
the server's CPU with a new database's 9 partitions, ~150 µs with the 42 of 35 days kept. The
hot paths know each execution's `created_at`, so their statements name the partition of its
UTC day (`executions_pYYYYMMDD`, store/partitions.py) instead. When that day is gone (dropped by
retention: its rows that had to stay moved to `executions_archive`), PostgreSQL answers
UndefinedTable before running anything, and the statement runs again on the parent table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus

PARENT = "executions"
T = TypeVar("T")


def day_table(created_at: Any) -> str:
    """The partition holding an execution created at `created_at`; the parent table when that
    is unknown (None, or a time without its zone)."""
    if not isinstance(created_at, datetime) or created_at.tzinfo is None:
        return PARENT
    return f"{PARENT}_p{created_at.astimezone(UTC):%Y%m%d}"


def on_day(conn: psycopg.Connection, created_at: Any, run: Callable[[str], T]) -> T:
    """`run(table)` on the execution's day partition, else (day gone, day unknown, or `conn` in
    a transaction, which an error would abort) on the parent table."""
    table = day_table(created_at)
    if table != PARENT and conn.info.transaction_status == TransactionStatus.IDLE:
        try:
            return run(table)
        except psycopg.errors.UndefinedTable:
            pass
    return run(PARENT)
