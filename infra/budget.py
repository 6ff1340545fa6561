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
    """The shape of one host: gunicorn workers and each broker worker's threads per queue (the
    Procfile's: compiler 2 on compilation_jobs, consumer 1, executor 4 on executions and 1 on events)."""

    web_workers: int = 2
    compiler: tuple[int, ...] = (2,)
    consumer: tuple[int, ...] = (1,)
    executor: tuple[int, ...] = (4, 1)


def worker_budget(threads: tuple[int, ...], *, dead_letter_actions: bool = False) -> int:
    """A broker worker: a connection per consumer thread (its tasks run on it too), the process's
    one listening connection (every queue's LISTEN, the visibility extensions of long tasks, and in
    the executor the cancel LISTEN: infra/listener.py), and, when its
    tasks have dead-letter actions (the compiler's), the broker pool of one they send through."""
    return sum(threads) + 1 + int(dead_letter_actions)


def budget(settings: Settings, host: Host = Host()) -> dict[str, int]:
    """Most connections each process of a host may hold (web: all its gunicorn workers)."""
    return {
        # Per gunicorn worker: its pool and the process's one listening connection (cancels and
        # HTTP routes LISTEN on it, /health and /ready ask the database on it: infra/listener.py).
        "pnil-web": host.web_workers * (settings.web_pool_size + 1),
        "pnil-compiler": worker_budget(host.compiler, dead_letter_actions=True),
        "pnil-consumer": worker_budget(host.consumer),
        # Plus the execution service's pool (sweep, bookkeeping); its cancel LISTEN shares the
        # worker's listening connection (one per process).
        "pnil-executor": worker_budget(host.executor) + settings.executor_pool_size,
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
    parser.add_argument("--compiler-threads", type=int, default=default.compiler[0])
    parser.add_argument("--executor-threads", type=int, default=default.executor[0], help="on executions")
    parser.add_argument("--max-connections", type=int, default=100)
    args = parser.parse_args(argv)
    host = Host(
        web_workers=args.web_workers,
        compiler=(args.compiler_threads,),
        executor=(args.executor_threads, *default.executor[1:]),
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
