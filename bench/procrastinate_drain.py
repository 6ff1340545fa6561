"""The baseline for bench "async": Procrastinate deferring and draining no-op jobs on the same PostgreSQL.

Procrastinate is what a Python team would pick for jobs on Postgres; it is a bench dependency
only. Its schema goes into the benchmark's throwaway database.
"""

from __future__ import annotations

import time

import procrastinate
import psycopg

QUEUE = "pnil_bench"


def measure_procrastinate(database_url: str, jobs: int, *, concurrency: int = 4) -> float:
    """Defer `jobs` no-op jobs in one batch, run a worker until the queue is empty; jobs/s drained."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database_url))

    @app.task(name="noop", queue=QUEUE)
    def noop() -> None:
        return None

    with app.open():
        with psycopg.connect(database_url, autocommit=True) as conn:
            present = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]
        if not present:
            app.schema_manager.apply_schema()
        noop.batch_defer(*({} for _ in range(jobs)))
        started = time.perf_counter()
        # wait=False: the worker stops once the queue is empty.
        app.run_worker(queues=[QUEUE], wait=False, concurrency=concurrency, install_signal_handlers=False)
        elapsed = time.perf_counter() - started
    return jobs / elapsed
