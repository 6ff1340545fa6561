"""Day partitions of executions and events (migration 0021): created ahead, old ones dropped.

Each table has `<table>_archive` (from MINVALUE to its first day) and `<table>_pYYYYMMDD`
per day. Dropping a day is a DETACH and a DROP TABLE, not a DELETE of its rows: it costs the
same for ten rows or ten million. Executions keep the newest execution of each function (and
anything still PENDING or RUNNING) whatever its age: those rows move into the archive, whose
range grows to cover the day.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import psycopg
from psycopg import sql

from contracts.statuses import ExecutionStatus

PARTITIONED = ("executions", "events")
DAYS_AHEAD = 7
# A day with keepers is dropped under an ACCESS EXCLUSIVE lock on executions (milliseconds); a
# drop that cannot get it this fast gives up (and retries next pass) rather than queue every
# request behind a long-running query.
LOCK_TIMEOUT_MS = 1000
CONCURRENT_WAIT_MS = 30_000
_DAY = re.compile(r"_p(\d{8})$")


def today_utc(conn: psycopg.Connection) -> date:
    return conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()[0]


def ensure_ahead(conn: psycopg.Connection, days_ahead: int = DAYS_AHEAD) -> int:
    """Create the missing day partitions from today to `days_ahead` days on; returns how many."""
    today = today_utc(conn)
    return sum(
        conn.execute(
            "SELECT pnil_ensure_day_partitions(%s, %s, %s)",
            (table, today, today + timedelta(days=days_ahead)),
        ).fetchone()[0]
        for table in PARTITIONED
    )


def days(conn: psycopg.Connection, table: str) -> list[tuple[str, date]]:
    """The table's day partitions, oldest first: (name, day)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    found = [(name, _DAY.search(name)) for (name,) in rows]
    return sorted(
        ((name, date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:]))) for name, m in found if m),
        key=lambda part: part[1],
    )


def _bound(day: date) -> str:
    return f"{day.isoformat()} 00:00:00+00"


# The rows of a day that must outlive it: the newest execution of each function in it that has
# no newer one anywhere, and whatever has not ended yet.
_KEEPERS = f"""
CREATE TEMP TABLE pnil_keep ON COMMIT DROP AS
SELECT * FROM {{day}} d WHERE d.status IN ('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}')
   -- a step of a workflow run still going: its hand-over reads the outputs of its steps
   OR d.workflow_run_id IN (SELECT r.id FROM workflow_runs r WHERE r.status IN ('{ExecutionStatus.PENDING}',
       '{ExecutionStatus.RUNNING}'))
   OR d.id IN (
    SELECT k.id FROM (SELECT DISTINCT ON (function_id) id, function_id, created_at FROM {{day}}
                      ORDER BY function_id, created_at DESC) k
    WHERE NOT EXISTS (SELECT 1 FROM executions x
                      WHERE x.function_id = k.function_id AND x.created_at > k.created_at))
"""


def drop_execution_day(conn: psycopg.Connection, name: str, day: date) -> tuple[int, int, float]:
    """Drop one day of executions, moving its keepers into the archive (autocommit `conn`).

    Returns (rows dropped, rows kept, ms executions was locked against reads and writes). A day
    without keepers (the usual one: every function ran since) is detached CONCURRENTLY, which
    never blocks reads or writes (0 ms); one with keepers takes ACCESS EXCLUSIVE from its DETACH
    to its commit, while the archive's range grows over the day."""
    part = sql.Identifier(name)
    with conn.transaction():
        conn.execute(sql.SQL(_KEEPERS).format(day=part))
        total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(part)).fetchone()[0]
        if conn.execute("SELECT count(*) FROM pnil_keep").fetchone()[0]:
            return _drop_keeping(conn, part, day, total)
    _detach_concurrently(conn, "executions", name)
    return total, 0, 0.0


def _drop_keeping(
    conn: psycopg.Connection, part: sql.Identifier, day: date, total: int
) -> tuple[int, int, float]:
    conn.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
    locked = time.perf_counter()
    conn.execute(sql.SQL("ALTER TABLE executions DETACH PARTITION {}").format(part))
    conn.execute("ALTER TABLE executions DETACH PARTITION executions_archive")
    # A function's older keeper in the archive is superseded by the one of this day.
    conn.execute(
        "DELETE FROM executions_archive a USING pnil_keep k "
        "WHERE a.function_id = k.function_id AND a.created_at < k.created_at "
        f"AND a.status NOT IN ('{ExecutionStatus.PENDING}', '{ExecutionStatus.RUNNING}') AND NOT EXISTS "
        "(SELECT 1 FROM workflow_runs r "
        f"WHERE r.id = a.workflow_run_id AND r.status IN ('{ExecutionStatus.PENDING}', "
        f"'{ExecutionStatus.RUNNING}'))"
    )
    kept = conn.execute("INSERT INTO executions_archive SELECT * FROM pnil_keep").rowcount
    conn.execute(
        sql.SQL(
            "ALTER TABLE executions ATTACH PARTITION executions_archive FOR VALUES FROM (MINVALUE) TO ({})"
        ).format(sql.Literal(_bound(day + timedelta(days=1))))
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(part))
    return total - kept, kept, (time.perf_counter() - locked) * 1000


def _detach_concurrently(conn: psycopg.Connection, table: str, name: str) -> None:
    """DETACH ... CONCURRENTLY then DROP: readers and writers of `table` never wait (a detach a
    crash interrupted is finished first)."""
    parent, part = sql.Identifier(table), sql.Identifier(name)
    pending = conn.execute(
        "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = %s::regclass", (name,)
    ).fetchone()
    if pending is not None:
        how = "FINALIZE" if pending[0] else "CONCURRENTLY"
        # It waits for the transactions that may still read the partition; one idle in a
        # transaction for longer makes it give up (the next pass finalizes it).
        conn.execute(f"SET lock_timeout = {CONCURRENT_WAIT_MS}")
        try:
            conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {} " + how).format(parent, part))
        finally:
            conn.execute("RESET lock_timeout")
    conn.execute(sql.SQL("DROP TABLE {}").format(part))


def drop_event_day(conn: psycopg.Connection, name: str) -> int:
    """Drop one day of events (autocommit `conn`); returns how many rows went."""
    total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0]
    _detach_concurrently(conn, "events", name)
    return total


def start_days_at(conn: psycopg.Connection, table: str, first_day: date) -> None:
    """Make a fresh database's table start its day partitions at `first_day` instead of the day it
    was migrated (tests and benchmarks that load history): the archive must hold no row from then."""
    archive = sql.Identifier(f"{table}_archive")
    with conn.transaction():
        conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(sql.Identifier(table), archive))
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM (MINVALUE) TO ({})").format(
                sql.Identifier(table), archive, sql.Literal(_bound(first_day))
            )
        )
        conn.execute("SELECT pnil_ensure_day_partitions(%s, %s, %s)", (table, first_day, today_utc(conn)))
