"""Connection pools that are opened after fork and never shared across it."""

from __future__ import annotations

import os

from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from infra import json_text

# jsonb columns (an execution's input, output, metrics...) are read by orjson where it keeps the
# value exact: every process that opens a pool reads them several times per execution.
set_json_loads(json_text.loads_stored)

# Hot statements touch partitioned tables, and PostgreSQL re-plans a prepared statement on them
# for every call by default (a custom plan costs more than the execution). Generic plans are
# planned once per connection and prune partitions at run time.
GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan"}


class ForkSafePool:
    """A lazily opened psycopg pool that reopens itself in a forked child."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        name: str = "pnil",
        timeout_s: float = 10.0,
        session: dict[str, str] | None = None,
    ):
        self.dsn = dsn
        self.timeout_s = timeout_s
        self._kwargs = {"min_size": min_size, "max_size": max_size, "name": name}
        self._connect = {"autocommit": True}
        if session:  # PostgreSQL settings of every connection, sent with the startup packet
            self._connect["options"] = " ".join(f"-c {name}={value}" for name, value in session.items())
        self._pool: ConnectionPool | None = None
        self._pid: int | None = None

    @property
    def pool(self) -> ConnectionPool:
        """The pool of this process, opened on first use."""
        if self._pool is None or self._pid != os.getpid():
            # A pool inherited through fork shares sockets with the parent: drop it unused.
            self._pool = ConnectionPool(
                self.dsn,
                open=False,
                kwargs=self._connect,
                # No per-checkout health check: it costs a round trip per borrow on the hot path.
                # A connection broken by a server restart fails one request (503) and the pool
                # drops it when it comes back in a bad state.
                **self._kwargs,
            )
            self._pool.open(wait=False)
            self._pid = os.getpid()
        return self._pool

    def connection(self, timeout: float | None = None):
        """Borrow an autocommit connection (context manager)."""
        return self.pool.connection(timeout=self.timeout_s if timeout is None else timeout)

    def check(self) -> None:
        """Test the idle connections now and replace the broken ones (after an outage)."""
        if self._pool is not None and self._pid == os.getpid():
            try:
                self._pool.check()
            except Exception:  # noqa: BLE001 - a check that fails is only a check
                pass

    def close(self) -> None:
        """Close this process's pool if it owns one."""
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None
