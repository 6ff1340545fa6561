"""`python -m bench.queue_churn [--messages N]`: pgmq queue tables under constant insert/delete.

Sends, reads and deletes `--messages` (1 million by default) through two pgmq queues in batches
of 1,000 (the flow of a busy `executions` queue): one with the autovacuum settings pnil gives its
queues (broker.create_queue), one with PostgreSQL's defaults. Prints per queue the table and
index bytes at the end and their peak, and how often autovacuum ran. Not part of `make bench`
(minutes); the figures are quoted in the README.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import psycopg

from bench.report import emit
from bench.stack import env_database_url, throwaway_database
from broker.pgmq import create_queue
from infra.logs import configure_logging

BENCH = "queue_churn"
BATCH = 1000
PAYLOAD = json.dumps({"executionId": "00000000-0000-0000-0000-000000000000", "functionId": "x" * 36})


def _sizes(conn: psycopg.Connection, queue: str) -> tuple[int, int, int]:
    table = f"pgmq.q_{queue}"
    row = conn.execute(
        "SELECT pg_table_size(%s::regclass), pg_indexes_size(%s::regclass), "
        "(SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = %s::regclass)",
        (table, table, table),
    ).fetchone()
    return row[0], row[1], row[2] or 0


def churn(conn: psycopg.Connection, queue: str, messages: int) -> dict:
    """Push `messages` through the queue in batches; the sizes at the end and their peak."""
    peak = 0
    started = time.monotonic()
    for done in range(0, messages, BATCH):
        conn.execute("SELECT pgmq.send_batch(%s, array_fill(%s::jsonb, ARRAY[%s]))", (queue, PAYLOAD, BATCH))
        ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.read(%s, 30, %s)", (queue, BATCH))]
        conn.execute("SELECT pgmq.delete(%s, %s::bigint[])", (queue, ids))
        if done % (50 * BATCH) == 0:
            table, index, _ = _sizes(conn, queue)
            peak = max(peak, table + index)
    table, index, vacuums = _sizes(conn, queue)
    return {
        "table": table,
        "index": index,
        "peak": max(peak, table + index),
        "vacuums": vacuums,
        "seconds": time.monotonic() - started,
    }


def run(messages: int = 1_000_000) -> list[dict]:
    """Churn a queue with pnil's settings and one with the defaults, alternating batches of work."""
    lines = []
    with throwaway_database(env_database_url()) as url, psycopg.connect(url, autocommit=True) as conn:
        create_queue(conn, "churn_pnil")
        conn.execute("SELECT pgmq.create('churn_default')")
        for queue, settings in (("churn_pnil", "pnil"), ("churn_default", "postgres defaults")):
            result = churn(conn, queue, messages)
            lines.append(
                emit(
                    BENCH,
                    f"{queue}_bytes",
                    result["table"] + result["index"],
                    "bytes",
                    messages=messages,
                    autovacuum=settings,
                    table_bytes=result["table"],
                    index_bytes=result["index"],
                    peak_bytes=result["peak"],
                    autovacuums=result["vacuums"],
                    seconds=round(result["seconds"], 1),
                )
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue_churn")
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    configure_logging("bench", "WARNING")
    run(args.messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
