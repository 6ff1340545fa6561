"""Refuse a transaction-mode pooler (PgBouncer `pool_mode=transaction` or `statement`) in front
of PostgreSQL, detected at start: pnil's concurrency slots are session advisory locks and its
wake-ups and cancels are LISTENs, which need one server session for a connection's whole life.

The detection costs two connections and three statements: a direct or session-pooled connection
keeps one backend (`pg_backend_pid()`) for its life and never shares it with another open
connection; behind a transaction pooler, statements outside a transaction go to whichever server
connection is free, so one client connection changes backend or two share one.
"""

from __future__ import annotations

import psycopg

TRANSACTION_POOLER_MESSAGE = (
    "{process}: DATABASE_URL leads to a transaction-mode pooler (e.g. PgBouncer pool_mode="
    "transaction): two connections were served by the same PostgreSQL backend, or one connection "
    "by two (backend pids {pids}). pnil cannot run so: concurrency slots are session advisory "
    "locks and cancels and wake-ups use LISTEN, which need the same server session for a "
    "connection's life. Point DATABASE_URL at PostgreSQL itself or at a session-mode pool "
    "(pool_mode=session)."
)


class TransactionPooler(RuntimeError):
    """DATABASE_URL is served by a pooler that does not keep one server session per connection."""


def shows_transaction_pooling(first_a: int, b: int, second_a: int) -> bool:
    """Backend pids seen by connection A, then another open connection B, then A again: a session
    (direct or session-pooled) keeps A's backend and never lends it to B."""
    return first_a != second_a or first_a == b


def _backend_pid(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def refuse_transaction_pooler(dsn: str, process: str) -> None:
    """Raise TransactionPooler when `dsn` does not give each connection a session of its own."""
    with (
        psycopg.connect(dsn, autocommit=True, connect_timeout=10) as a,
        psycopg.connect(dsn, autocommit=True, connect_timeout=10) as b,
    ):
        pids = (_backend_pid(a), _backend_pid(b), _backend_pid(a))
    if shows_transaction_pooling(*pids):
        raise TransactionPooler(TRANSACTION_POOLER_MESSAGE.format(process=process, pids=list(pids)))
