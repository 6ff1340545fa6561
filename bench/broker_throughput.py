"""bench "broker": raw pgmq send → read → delete versus the same messages as broker tasks.

Fairness: both sides run in the same process against the same server, on fresh queues created the
same way (insert notifications on), with the same payloads and the same pgmq SQL calls
(`send`, `read` of one message, `delete`). Both sides have a producer connection and a separate
consumer connection working at the same time: raw pgmq's consumer thread loops
`pgmq.read_with_poll` (1 ms server-side polling) then `pgmq.delete`; the broker gets a Worker with
concurrency 1 (one consumer connection, as in production) while the bench thread sends the tasks
with `task.send`, as an application would. Each side is timed from its first send until its
consumer has taken the last message, after a warm-up pass.
Rounds alternate raw, broker, raw, broker, ...; each pair runs back to back under the same machine
load, so the ratio is the median of the per-pair ratios (the rates are the medians of the rounds).
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import uuid
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from bench import BenchError
from bench.report import emit
from bench.stack import env_database_url, throwaway_database
from broker import Broker, Worker
from broker.pgmq import create_queue

BENCH = "broker"
DEFAULT_N = 400
DEFAULT_ROUNDS = 9
WARMUP = 50
VT_S = 30

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class Round:
    """One timed pass of n messages."""

    n: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.n / self.seconds


def payloads(n: int) -> list[dict]:
    """The messages both sides move: small JSON objects, distinct per message."""
    return [{"i": i, "kind": "bench", "data": f"payload-{i:08d}-" + "x" * 48} for i in range(n)]


def _fresh_queue(dsn: str, label: str) -> str:
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        create_queue(conn, name)
    return name


def _drop_queue(dsn: str, queue: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pgmq.drop_queue(%s)", (queue,))


def _raw_consumer(dsn: str, queue: str, total: int, done: threading.Event, errors: list) -> None:
    """read one → delete on its own connection until `total` messages went through."""
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            moved = 0
            while moved < total:
                # pgmq's own way for a consumer to wait for work: poll server-side every 1 ms.
                row = conn.execute(
                    "SELECT * FROM pgmq.read_with_poll(%s, %s, %s, %s, %s)", (queue, VT_S, 1, 5, 1)
                ).fetchone()
                if row is None:
                    raise BenchError(f"the raw consumer waited 5 s for a message on {queue}")
                conn.execute("SELECT pgmq.delete(%s, %s::bigint)", (queue, row[0]))
                moved += 1
    except BaseException as exc:  # noqa: BLE001 - reported by the producer's side
        errors.append(exc)
    finally:
        done.set()


def _raw_pass(dsn: str, queue: str, messages: list[dict], timeout_s: float) -> float:
    """Seconds from the first send until a separate consumer deleted every message."""
    done, errors = threading.Event(), []
    consumer = threading.Thread(
        target=_raw_consumer, args=(dsn, queue, len(messages), done, errors), name="raw-consumer"
    )
    with psycopg.connect(dsn, autocommit=True) as producer:
        producer.execute("SELECT 1")
        consumer.start()
        started = time.perf_counter()
        for body in messages:
            producer.execute("SELECT pgmq.send(%s, %s)", (queue, Jsonb(body)))
        finished = done.wait(timeout_s)
        elapsed = time.perf_counter() - started
    consumer.join(timeout_s)
    if errors:
        raise BenchError(f"the raw consumer failed: {errors[0]!r}")
    if not finished:
        raise BenchError(f"the raw consumer did not take {len(messages)} messages in {timeout_s}s")
    return elapsed


def raw_pgmq_round(dsn: str, messages: list[dict], *, timeout_s: float = 60.0) -> Round:
    """pgmq's send on a producer connection while a consumer connection reads and deletes.

    The same shape as the broker: sends and consumption overlap, on two connections.
    """
    queue = _fresh_queue(dsn, "raw")
    try:
        _raw_pass(dsn, queue, messages[:WARMUP], timeout_s)
        return Round(n=len(messages), seconds=_raw_pass(dsn, queue, messages, timeout_s))
    finally:
        _drop_queue(dsn, queue)


class _Counter:
    """Counts task runs and signals when a target is reached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.target = 0
        self.reached = threading.Event()

    def expect(self, total: int) -> None:
        with self._lock:
            self.target = total
            self.reached.clear()
            if self.count >= total:
                self.reached.set()

    def add(self) -> None:
        with self._lock:
            self.count += 1
            if self.count >= self.target:
                self.reached.set()


def broker_round(dsn: str, messages: list[dict], *, timeout_s: float = 60.0) -> Round:
    """The same messages as broker tasks: `task.send` here, an in-process Worker runs them."""
    queue = _fresh_queue(dsn, "broker")
    broker = Broker(dsn, pool_size=2)
    counter = _Counter()

    @broker.task(queue=queue, name="bench.count", max_retries=0, visibility_timeout=VT_S)
    def count(payload: dict, delivery) -> None:
        counter.add()

    worker = Worker(broker, [queue], concurrency=1)
    worker.start()
    try:
        # Warm-up: the worker's connection, its LISTEN thread and the sender's pool are all up.
        warmup = messages[:WARMUP]
        counter.expect(len(warmup))
        for body in warmup:
            count.send(**body)
        if not counter.reached.wait(timeout_s):
            raise BenchError(f"the worker ran {counter.count} of {len(warmup)} warm-up tasks in {timeout_s}s")
        counter.expect(len(warmup) + len(messages))
        started = time.perf_counter()
        for body in messages:
            count.send(**body)
        if not counter.reached.wait(timeout_s):
            raise BenchError(
                f"the worker ran {counter.count - len(warmup)} of {len(messages)} tasks in {timeout_s}s"
            )
        return Round(n=len(messages), seconds=time.perf_counter() - started)
    finally:
        worker.stop()
        worker.join(10)
        broker.close()
        _drop_queue(dsn, queue)


def measure(dsn: str, n: int, rounds: int) -> tuple[list[Round], list[Round]]:
    """Alternate raw and broker rounds; return (raw rounds, broker rounds)."""
    messages = payloads(n)
    raw, brokered = [], []
    for _ in range(rounds):
        raw.append(raw_pgmq_round(dsn, messages))
        brokered.append(broker_round(dsn, messages))
        log.info("round raw=%.0f msg/s broker=%.0f msg/s", raw[-1].msgs_per_s, brokered[-1].msgs_per_s)
    return raw, brokered


def run(*, n: int = DEFAULT_N, rounds: int = DEFAULT_ROUNDS, database_url: str | None = None) -> list[dict]:
    """Measure and print raw_pgmq_msgs_per_s, broker_msgs_per_s and ratio_vs_raw_pgmq."""
    with throwaway_database(database_url or env_database_url()) as dsn:
        raw, brokered = measure(dsn, n, rounds)
        # The workers' LISTEN threads notice `stop` within 0.5 s; let them go before the server
        # stops, or they log a (harmless) lost-connection warning.
        time.sleep(0.6)
    raw_rate = statistics.median(r.msgs_per_s for r in raw)
    broker_rate = statistics.median(r.msgs_per_s for r in brokered)
    pair_ratios = [b.msgs_per_s / r.msgs_per_s for r, b in zip(raw, brokered, strict=True)]
    common = {"n": n, "rounds": rounds}
    return [
        emit(
            BENCH,
            "raw_pgmq_msgs_per_s",
            raw_rate,
            "msgs/s",
            **common,
            connections="producer + consumer, overlapping",
            consumer="pgmq.read_with_poll (1 ms) + pgmq.delete",
            per_round=[round(r.msgs_per_s, 1) for r in raw],
        ),
        emit(
            BENCH,
            "broker_msgs_per_s",
            broker_rate,
            "msgs/s",
            **common,
            connections="producer + consumer, overlapping",
            concurrency=1,
            per_round=[round(r.msgs_per_s, 1) for r in brokered],
        ),
        emit(
            BENCH,
            "ratio_vs_raw_pgmq",
            statistics.median(pair_ratios),
            "ratio",
            goal=">= 0.8",
            per_round=[round(x, 3) for x in pair_ratios],
        ),
    ]
