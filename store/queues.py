"""Queue figures for operators, from pgmq.metrics_all and the archives (our dead letters)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from migrations import QUEUES


def queue_stats(conn: psycopg.Connection) -> list[dict]:
    """Per pnil queue: depth, in flight, oldest message age, total sent, dead-lettered."""
    metrics = {
        row[0]: row
        for row in conn.execute(
            "SELECT queue_name, queue_length, queue_visible_length, oldest_msg_age_sec, total_messages "
            "FROM pgmq.metrics_all()"
        )
    }
    stats = []
    for queue in QUEUES:
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
