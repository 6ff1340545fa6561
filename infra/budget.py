"""The connection budget: how many PostgreSQL connections each pnil process may hold at most.

One formula per process, from the settings and the Procfile's worker options; the README's
"Connection budget" section shows the same figures and `python -m infra.budget` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import Settings

# What the migrations (`release`) and an operator's psql need on top of the hosts.
RELEASE_AND_OPERATOR = 5


@dataclass(frozen=True, kw_only=True, slots=True)
class Host:
    """The shape of one host: gunicorn workers and each broker worker's queues and threads."""

    web_workers: int = 2
    compiler: tuple[int, int] = (1, 2)  # (queues, threads per queue)
    consumer: tuple[int, int] = (1, 1)
    executor: tuple[int, int] = (2, 4)


def worker_budget(queues: int, threads: int) -> int:
    """A broker worker: a connection per consumer thread (its tasks run on it too), one LISTEN
    for all its queues, and a broker pool of one (visibility extensions, dead-letter actions)."""
    return queues * threads + 2


def budget(settings: Settings, host: Host = Host()) -> dict[str, int]:
    """Most connections each process of a host may hold (web: all its gunicorn workers)."""
    return {
        # Per gunicorn worker: its pool, /health's own connection, the cancel and HTTP-routes LISTENs.
        "pnil-web": host.web_workers * (settings.web_pool_size + 3),
        "pnil-compiler": worker_budget(*host.compiler),
        "pnil-consumer": worker_budget(*host.consumer),
        # Plus the execution service's pool (sweep, bookkeeping) and its cancel LISTEN.
        "pnil-executor": worker_budget(*host.executor) + settings.executor_pool_size + 1,
        # Its pool and the LISTEN for schedule changes.
        "pnil-scheduler": settings.scheduler_pool_size + 1,
    }


def hosts_that_fit(max_connections: int, per_host: int, reserved_for_superuser: int = 3) -> int:
    """How many hosts one server carries, keeping room for migrations and an operator."""
    return (max_connections - reserved_for_superuser - RELEASE_AND_OPERATOR) // per_host


def main(argv: list[str] | None = None) -> None:
    """`python -m infra.budget [--web-workers N] [--compiler-threads N] [--executor-threads N]`."""
    import argparse
    import os

    default = Host()
    parser = argparse.ArgumentParser(prog="python -m infra.budget", description=__doc__)
    parser.add_argument("--web-workers", type=int, default=default.web_workers, help="WEB_CONCURRENCY")
    parser.add_argument("--compiler-threads", type=int, default=default.compiler[1])
    parser.add_argument("--executor-threads", type=int, default=default.executor[1])
    parser.add_argument("--max-connections", type=int, default=100)
    args = parser.parse_args(argv)
    host = Host(
        web_workers=args.web_workers,
        compiler=(1, args.compiler_threads),
        executor=(2, args.executor_threads),
    )
    # The pool sizes come from the PNIL_* settings of this environment.
    figures = budget(Settings.from_env({**os.environ, "DATABASE_URL": "postgresql:///unused"}), host)
    for name, count in figures.items():
        print(f"{name:<16} {count}")
    total = sum(figures.values())
    fit = hosts_that_fit(args.max_connections, total)
    print(f"{'per host':<16} {total}  ({fit} hosts in max_connections {args.max_connections})")


if __name__ == "__main__":
    main()
