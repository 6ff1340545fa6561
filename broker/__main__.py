"""`python -m broker worker MODULE:BROKER QUEUE[:THREADS]... [--concurrency N]`: run a worker process."""

from __future__ import annotations

import argparse
import importlib
import os

from broker.broker import Broker
from broker.worker import Worker
from infra.embedded_postgres import resolve_database_url
from infra.logs import configure_logging
from infra.settings import Settings, log_format_from, log_level_from, worker_concurrency_from


def load_broker(spec: str) -> Broker:
    """Import `package.module:attribute` and return the Broker it names."""
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    broker = getattr(module, attr or "broker")
    if not isinstance(broker, Broker):
        raise SystemExit(f"{spec} is not a broker.Broker")
    return broker


def parse_queues(specs: list[str]) -> tuple[list[str], dict[str, int]]:
    """`executions events:1` → the queue names and the queues given a thread count of their own."""
    queues, threads = [], {}
    for spec in specs:
        name, _, count = spec.partition(":")
        queues.append(name)
        if count:
            if not count.isdigit() or int(count) < 1:
                raise SystemExit(f"{spec}: the thread count after ':' must be a positive integer")
            threads[name] = int(count)
    return queues, threads


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m broker")
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="run the tasks of the given queues")
    worker.add_argument("app", help="MODULE:ATTRIBUTE of the Broker, e.g. tasks:broker")
    worker.add_argument(
        "queues", nargs="+", help="QUEUE, or QUEUE:THREADS for a queue that gets its own thread count"
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="consumer threads of each queue not given as QUEUE:THREADS (default: "
        "the settings <NAME>_CONCURRENCY, then CONCURRENCY, else --default-concurrency)",
    )
    worker.add_argument("--default-concurrency", type=int, default=1)
    worker.add_argument("--name", default=None, help="process name in the logs")
    args = parser.parse_args(argv)
    if args.concurrency is None:
        args.concurrency = worker_concurrency_from(os.environ, args.name, args.default_concurrency)

    configure_logging(args.name or "worker", log_level_from(os.environ), log_format_from(os.environ))
    broker = load_broker(args.app)
    name = args.name or "worker"
    settings = Settings.from_env({**os.environ, "DATABASE_URL": resolve_database_url()}).for_process(name)
    for check in broker.start_checks:  # tasks:broker checks the schema (tasks/app.py)
        check(settings.database_url, name)
    # Tasks run on their consumer thread's connection; the pool serves only dead-letter actions.
    broker.connect(settings.database_url, pool_size=1)
    queues, threads = parse_queues(args.queues)
    Worker(broker, queues, concurrency=args.concurrency, threads=threads, settings=settings).run()


if __name__ == "__main__":
    main()
