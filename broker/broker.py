"""The broker: a strict task registry over pgmq's SQL functions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from broker import pgmq
from broker.errors import BrokerError, TaskDeclarationError
from broker.message import Message
from broker.retry import RetryPolicy
from broker.task import Task
from infra.database import ForkSafePool

log = logging.getLogger(__name__)

_TASK_OPTIONS = {
    "queue",
    "name",
    "max_retries",
    "visibility_timeout",
    "backoff",
    "max_backoff",
    "on_dead",
    "batch",
    "batch_s",
    "session",
    "settle",
}


# pgmq.read's own statement, with the order changed: a message's turn is how many messages of its
# key are in flight (read and still hidden; a message sent with a delay was never read and does
# not count) plus its rank among that key's visible ones; ties go to the oldest.
# Without sorting the whole queue: one pass counts, per key, its messages in flight and waiting
# (a hash aggregate); the qty * 4 smallest turns are drawn from those counts; then only the few
# first visible messages of the keys drawn are looked up, each key from its oldest visible
# message on (the primary key's order). A few spare ones stand in for those another reader
# locked meanwhile. The messages come back in the order of their turns: a consumer thread starts
# them in that order, so another key's message is not last of a long read.
_FAIR_READ = """
WITH queued AS (
    SELECT msg_id, message->>%(key)s AS k, vt <= clock_timestamp() AS visible, read_ct > 0 AS read
    FROM {table}
), keys AS (
    SELECT k, count(*) FILTER (WHERE NOT visible AND read) AS in_flight,
           count(*) FILTER (WHERE visible) AS waiting, min(msg_id) FILTER (WHERE visible) AS first
    FROM queued GROUP BY k
), turns AS (
    SELECT k, max(r) AS take FROM (
        SELECT keys.k, r FROM keys, generate_series(1, LEAST(keys.waiting, %(qty)s * 4)) r
        ORDER BY keys.in_flight + r, keys.first LIMIT %(qty)s * 4
    ) t GROUP BY k
), candidates AS (
    SELECT c.msg_id, keys.in_flight + row_number() OVER (PARTITION BY keys.k ORDER BY c.msg_id) AS turn
    FROM turns JOIN keys ON keys.k IS NOT DISTINCT FROM turns.k, LATERAL (
        SELECT msg_id FROM {table} q
        WHERE q.msg_id >= keys.first AND q.message->>%(key)s IS NOT DISTINCT FROM turns.k
          AND q.vt <= clock_timestamp()
        ORDER BY msg_id LIMIT turns.take
    ) c
), chosen AS (
    SELECT m.msg_id, c.turn FROM {table} m JOIN candidates c ON c.msg_id = m.msg_id
    WHERE m.vt <= clock_timestamp()
    ORDER BY c.turn, m.msg_id
    LIMIT %(qty)s
    FOR UPDATE OF m SKIP LOCKED
), taken AS (
    UPDATE {table} m
    SET last_read_at = clock_timestamp(), vt = clock_timestamp() + make_interval(secs => %(vt)s),
        read_ct = read_ct + 1
    FROM chosen WHERE m.msg_id = chosen.msg_id
    RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers, chosen.turn
)
SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM taken ORDER BY turn, msg_id
"""


class Broker:
    """Registers tasks and moves their messages through pgmq (`send`, `read`, `delete`, ...)."""

    def __init__(self, dsn: str | None = None, *, pool_size: int = 8) -> None:
        self.tasks: dict[str, Task] = {}
        self.startup_hooks: dict[str, list[Callable[[Any], None]]] = {}
        # fn(database_url, process_name) run by `python -m broker worker` before it connects (e.g.
        # the schema check of the app's migrations): the app declares it, the broker imports none.
        self.start_checks: list[Callable[[str, str], None]] = []
        self.fair_keys: dict[str, str] = {}  # queue → the message field whose values take turns
        self._pool_size = pool_size
        self._db: ForkSafePool | None = None
        if dsn:
            self.connect(dsn)

    # -- configuration ---------------------------------------------------------------------
    def connect(self, dsn: str, *, pool_size: int | None = None) -> Broker:
        """Bind the broker to a database; the pool opens lazily in each process."""
        if self._db is not None and self._db.dsn != dsn:
            self._db.close()
        if pool_size is not None:
            self._pool_size = pool_size
        self._db = ForkSafePool(dsn, max_size=self._pool_size, name="broker")
        return self

    @property
    def db(self) -> ForkSafePool:
        if self._db is None:
            raise BrokerError("broker is not connected: call broker.connect(DATABASE_URL) first")
        return self._db

    def close(self) -> None:
        """Close this process's connection pool."""
        if self._db is not None:
            self._db.close()

    def task(self, **options: Any) -> Callable[[Callable], Task]:
        """Declare a task: `@broker.task(queue=..., max_retries=..., visibility_timeout=..., backoff=...)`.

        `batch=N` lets a consumer thread read N messages at once (cheap, short tasks).
        `batch_s=S` with it: read about S seconds of work at once (at most N messages), from a
        moving average of how long the queue's messages take to handle (broker/batching.py).
        `session={setting: value}`: PostgreSQL settings of the connection the worker runs the
        queue's tasks on (e.g. the plan cache mode of a task whose statements are always the same).
        `settle=fn(connection)`: a task that defers work to the next message its consumer thread
        handles (e.g. records one message's outcome in the statement of the next) does it now;
        the worker calls it on the thread's connection when no next message follows at once:
        before it waits for messages or stops, after a read that did not fill its batch, and
        when a message's handling raised.
        `on_dead=fn(payload, reason)` runs before a message of the task is dead-lettered (retries
        exhausted, rejected, or its deliveries kept dying); if it raises, the message is kept.
        """
        unknown = set(options) - _TASK_OPTIONS
        if unknown:
            raise TaskDeclarationError(f"unknown task option(s): {', '.join(sorted(unknown))}")
        if not isinstance(options.get("queue"), str) or not options["queue"]:
            raise TaskDeclarationError("a task needs queue=<name>")

        def declare(fn: Callable) -> Task:
            name = options.get("name") or f"{fn.__module__}.{fn.__qualname__}"
            if name in self.tasks:
                raise TaskDeclarationError(f"a task named {name!r} is already declared")
            backoff = options.get("backoff", 1.0)
            retry = RetryPolicy(
                max_retries=options.get("max_retries", 5),
                base_delay_s=float(backoff),
                max_delay_s=float(options.get("max_backoff", 300.0)),
            )
            task = Task(
                name=name,
                queue=options["queue"],
                fn=fn,
                visibility_timeout_s=int(options.get("visibility_timeout", 30)),
                retry=retry,
                broker=self,
                on_dead=options.get("on_dead"),
                batch=int(options.get("batch", 1)),
                batch_s=None if options.get("batch_s") is None else float(options["batch_s"]),
                session=dict(options.get("session") or {}),
                settle=options.get("settle"),
            )
            self.tasks[name] = task
            return task

        return declare

    def on_worker_start(self, queue: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
        """Declare `fn(settings)` a worker of `queue` runs before it reads (e.g. warm a compiler)."""

        def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
            self.startup_hooks.setdefault(queue, []).append(fn)
            return fn

        return register

    def check_before_start(self, fn: Callable[[str, str], None]) -> Callable[[str, str], None]:
        """Declare `fn(database_url, process_name)` a worker process runs before it connects; it
        raises (or exits) to refuse to start."""
        self.start_checks.append(fn)
        return fn

    def read_fairly(self, queue: str, *, key: str) -> None:
        """Serve `queue`'s messages in turns of their `key` field (e.g. the tenant) instead of
        oldest first: a value with many messages waiting or in flight does not hold up the first
        message of another."""
        self.fair_keys[queue] = key

    def tasks_for(self, queue: str) -> list[Task]:
        """Tasks declared on a queue."""
        return [t for t in self.tasks.values() if t.queue == queue]

    # -- pgmq operations -------------------------------------------------------------------
    def send(
        self,
        queue: str,
        payload: Any,
        *,
        task: str | None = None,
        delay_s: int = 0,
        at: datetime | None = None,
        conn: psycopg.Connection | None = None,
    ) -> int:
        """pgmq.send with the task name in the message headers; invisible `delay_s` seconds, or
        until `at`."""
        if conn is not None:
            return pgmq.send(conn, queue, payload, task=task, delay_s=delay_s, at=at)
        with self.db.connection() as own:
            return pgmq.send(own, queue, payload, task=task, delay_s=delay_s, at=at)

    def read(self, conn: psycopg.Connection, queue: str, vt_s: int, qty: int = 1) -> list[Message]:
        """pgmq.read: take up to qty visible messages and hide them for vt_s seconds (in turns of
        the queue's fair key when it has one)."""
        key = self.fair_keys.get(queue)
        if key is None:
            rows = conn.execute("SELECT * FROM pgmq.read(%s, %s, %s)", (queue, vt_s, qty)).fetchall()
        else:
            statement = sql.SQL(_FAIR_READ).format(table=sql.Identifier("pgmq", f"q_{queue}"))
            rows = conn.execute(statement, {"key": key, "vt": vt_s, "qty": qty}).fetchall()
        return [Message.from_row(queue, row) for row in rows]

    @staticmethod
    def send_sql(queue_param: str, payload_sql: str, headers_param: str, *, at_sql: str | None = None) -> str:
        """pgmq.send as an SQL expression, for a message sent inside a caller's statement; with
        `at_sql` (a timestamptz) the message stays invisible until then."""
        return pgmq.send_sql(queue_param, payload_sql, headers_param, at_sql=at_sql)

    @staticmethod
    def delete_sql(queue_param: str, msg_id_param: str) -> str:
        """pgmq.delete as an SQL expression, for a task that acknowledges inside its own statement."""
        return pgmq.delete_sql(queue_param, msg_id_param)

    def delete(self, conn: psycopg.Connection, queue: str, msg_id: int) -> bool:
        """pgmq.delete: the message was handled."""
        return conn.execute("SELECT pgmq.delete(%s, %s::bigint)", (queue, msg_id)).fetchone()[0]

    def archive(self, conn: psycopg.Connection, queue: str, msg_id: int) -> bool:
        """pgmq.archive: move the message to the queue's archive (our dead letters)."""
        return conn.execute("SELECT pgmq.archive(%s, %s::bigint)", (queue, msg_id)).fetchone()[0]

    def set_vt(self, conn: psycopg.Connection, queue: str, msg_id: int, vt_s: float) -> None:
        """pgmq.set_vt: make the message visible again vt_s seconds from now."""
        pgmq.set_visibility(conn, queue, msg_id, vt_s)
