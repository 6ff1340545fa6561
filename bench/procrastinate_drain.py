"""The baseline for bench "async": Procrastinate draining no-op jobs on the same PostgreSQL server.

Procrastinate is what a Python team would pick for jobs on Postgres; it is a bench dependency
only. Like for like with pnil's queued path:
- a fresh database of its own on the same server (nothing left over from pnil's run);
- the same commit durability: pnil's queued path commits without waiting for the WAL flush
  (`synchronous_commit` off per transaction), so Procrastinate's connections run with
  `synchronous_commit=off` too;
- the worker is started and has run one job before the clock starts (pnil's executor is warm
  too), the jobs are deferred in one statement, and the clock runs from that commit until no job
  is left to do; every job must have succeeded.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import procrastinate
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench import BenchError

QUEUE = "pnil_bench"
SYNCHRONOUS_COMMIT = "off"
POLL_S = 0.05
TIMEOUT_S = 600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Drain:
    """What the baseline measured, and under which settings."""

    jobs_per_s: float
    settings: dict


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server of server_url, dropped afterwards."""
    name = f"pnil_bench_procrastinate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def _left(conn: psycopg.AsyncConnection) -> int:
    cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
    return (await cur.fetchone())[0]


async def _wait_empty(conn: psycopg.AsyncConnection, timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while (left := await _left(conn)) > 0:
        if time.perf_counter() > deadline:
            raise BenchError(f"{left} procrastinate jobs still to do after {timeout_s} s")
        await asyncio.sleep(POLL_S)


async def _drain(database_url: str, jobs: int, concurrency: int) -> float:
    options = f"-c synchronous_commit={SYNCHRONOUS_COMMIT}"
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=database_url, kwargs={"options": options})
    )

    @app.task(name="noop", queue=QUEUE)
    def noop() -> None:
        return None

    async with app.open_async(), await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await app.schema_manager.apply_schema_async()
        shown = await app.connector.execute_query_one_async("SHOW synchronous_commit")
        if shown["synchronous_commit"] != SYNCHRONOUS_COMMIT:
            raise BenchError(
                f"procrastinate's connection runs synchronous_commit={shown['synchronous_commit']}"
            )
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=[QUEUE], wait=True, concurrency=concurrency, install_signal_handlers=False
            )
        )
        try:
            await noop.defer_async()  # the worker is up and has run a job before the clock starts
            await _wait_empty(conn, 60)
            await noop.batch_defer_async(*({} for _ in range(jobs)))
            started = time.perf_counter()
            await _wait_empty(conn, TIMEOUT_S)
            elapsed = time.perf_counter() - started
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        cur = await conn.execute("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1")
        statuses = dict(await cur.fetchall())
    if statuses != {"succeeded": jobs + 1}:
        raise BenchError(f"procrastinate jobs did not all succeed: {statuses}")
    return jobs / elapsed


def measure_procrastinate(server_url: str, jobs: int, *, concurrency: int = 4) -> Drain:
    """Drain `jobs` no-op jobs with a warm worker on a fresh database of server_url's server."""
    with fresh_database(server_url) as url:
        per_s = asyncio.run(_drain(url, jobs, concurrency))
    settings = {
        "synchronous_commit": f"{SYNCHRONOUS_COMMIT} (every connection)",
        "database": "fresh, same server",
        "worker": f"1 worker, concurrency {concurrency}, started and warm before the clock",
    }
    return Drain(jobs_per_s=per_s, settings=settings)
