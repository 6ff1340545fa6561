"""pnil's pgmq calls that need no Broker: send (and its SQL), queue creation, visibility, figures.

The bottom of the broker package: the Broker, its heartbeat and worker, the migrator, the web and
the services that send inside their own transaction use these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb


def send(
    conn: psycopg.Connection,
    queue: str,
    payload: Any,
    *,
    task: str | None = None,
    delay_s: int = 0,
    at: datetime | None = None,
) -> int:
    """pgmq.send on conn (it commits with the caller's transaction) with the task name in the
    message headers; invisible `delay_s` seconds, or until `at`."""
    headers = Jsonb({"task": task}) if task else None
    if at is not None:
        statement = "SELECT pgmq.send(%s, %s, %s, %s::timestamptz)"
        params = (queue, Jsonb(payload), headers, at)
    else:
        statement = "SELECT pgmq.send(%s, %s, %s, %s::integer)"
        params = (queue, Jsonb(payload), headers, delay_s)
    return conn.execute(statement, params).fetchone()[0]


def send_sql(queue_param: str, payload_sql: str, headers_param: str, *, at_sql: str | None = None) -> str:
    """pgmq.send as an SQL expression, for a message sent inside a caller's statement; with
    `at_sql` (a timestamptz) the message stays invisible until then."""
    if at_sql is not None:
        return f"pgmq.send({queue_param}, {payload_sql}, {headers_param}::jsonb, ({at_sql})::timestamptz)"
    return f"pgmq.send({queue_param}, {payload_sql}, {headers_param}::jsonb, 0)"


def delete_sql(queue_param: str, msg_id_param: str) -> str:
    """pgmq.delete as an SQL expression, for a task that acknowledges inside its own statement."""
    return f"pgmq.delete({queue_param}, {msg_id_param}::bigint)"


# Wakes a queue's idle consumers when messages are sent (broker/wakeup.py LISTENs on the channel).
# `create_queue` puts it on each queue table in place of pgmq's own (pgmq.enable_notify_insert): a
# row trigger that also updates the queue's row of pgmq.notify_insert_throttle on every message.
# That row is one per queue, so every transaction sending to the queue held its lock until it
# committed (concurrent senders queued on it), and a batch of 1,000 messages updated it 1,000
# times. This one notifies once per statement, on the same channel; PostgreSQL delivers one
# notification per channel and transaction either way.
NOTIFY_INSERT = """
CREATE OR REPLACE FUNCTION pnil_notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgmq.' || TG_TABLE_NAME || '.' || TG_OP, NULL);
    RETURN NULL;
END
$$"""


def create_queue(conn: psycopg.Connection, queue: str) -> None:
    """Create a pgmq queue with insert notifications (idempotent)."""
    exists = conn.execute("SELECT count(*) FROM pgmq.meta WHERE queue_name = %s", (queue,)).fetchone()[0]
    if not exists:
        conn.execute("SELECT pgmq.create(%s)", (queue,))
    # Every send notifies, so an idle worker wakes at once (see NOTIFY_INSERT).
    conn.execute(NOTIFY_INSERT)
    conn.execute("SELECT pgmq.disable_notify_insert(%s)", (queue,))
    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE TRIGGER pnil_notify_insert AFTER INSERT ON pgmq.{} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pnil_notify_insert()"
        ).format(sql.Identifier(f"q_{queue}"))
    )
    # A queue table sees one insert and one delete per message: vacuumed after 1 % dead rows
    # (PostgreSQL's default waits for 20 %), without cost delay, its heap and index pages are
    # reused instead of growing under a constant flow.
    for table in (f"q_{queue}", f"a_{queue}"):
        conn.execute(
            sql.SQL(
                "ALTER TABLE pgmq.{} SET (autovacuum_vacuum_scale_factor = 0.01, "
                "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0, "
                "autovacuum_vacuum_insert_scale_factor = 0.01)"
            ).format(sql.Identifier(table))
        )


def set_visibility(conn: psycopg.Connection, queue: str, msg_id: int, seconds: float) -> None:
    """pgmq.set_vt: the message becomes visible again `seconds` from now."""
    conn.execute("SELECT pgmq.set_vt(%s, %s::bigint, %s::integer)", (queue, msg_id, max(0, round(seconds))))


def next_visible_in(conn: psycopg.Connection, queue: str) -> float | None:
    """Seconds until the queue's next hidden message becomes visible (a delayed send, a retry's
    backoff, a visibility timeout); None when it holds none. An index lookup (pgmq indexes vt)."""
    row = conn.execute(
        sql.SQL("SELECT EXTRACT(EPOCH FROM min(vt) - clock_timestamp())::float8 FROM pgmq.{}").format(
            sql.Identifier(f"q_{queue}")
        )
    ).fetchone()
    return row[0] if row else None


def queue_stats(conn: psycopg.Connection, queues: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per queue: depth, in flight, oldest message age, total sent, dead-lettered (archived)."""
    metrics = {
        row[0]: row
        for row in conn.execute(
            "SELECT queue_name, queue_length, queue_visible_length, oldest_msg_age_sec, total_messages "
            "FROM pgmq.metrics_all()"
        )
    }
    stats = []
    for queue in queues:
        if queue not in metrics:
            continue
        _, length, visible, oldest, total = metrics[queue]
        dead = conn.execute(
            sql.SQL("SELECT count(*) FROM pgmq.{}").format(sql.Identifier(f"a_{queue}"))
        ).fetchone()[0]
        stats.append(
            {
                "queue": queue,
                "depth": visible,
                "inFlight": length - visible,
                "oldestMessageAgeSeconds": oldest,
                "totalSent": total,
                "deadLettered": dead,
            }
        )
    return stats
