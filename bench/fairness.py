"""bench "fairness": one tenant floods slow executions; another tenant's fast function and /health.

Tenant A runs 50 closed-loop clients calling an infinite loop (`maxExecutionTimeMs` 1000,
`maxConcurrentRuns` 50) for FLOOD_S seconds, each coming back after `Retry-After` when refused;
meanwhile tenant B calls a fast function one call at a time and a third client polls
`GET /health`. B's latency is also measured before the flood, in the same run, as the baseline.
Only B's answered calls (200) count in the latency figures; refusals (429/503) are a count of
their own (`other_tenant_refused`). A prober thread that raises fails the bench.
Queued path (`other_tenant_queued_behind_backlog_s`): tenant A queues BACKLOG executions of a
function busy 40 ms each, then tenant B queues one of its fast function; the figure is B's time
from the commit of its enqueue until it reads COMPLETED (the median of IDLE_RUNS of the same
execution on the idle executor is printed beside it).
Real Procfile processes (2 gunicorn workers, one executor) on real PostgreSQL.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
import requests

from bench import BenchError
from bench.report import emit, p50
from bench.stack import Stack, env_database_url
from contracts.statuses import CompileStatus, ExecutionStatus
from executions.enqueue import enqueue_execution
from store import tenants

BENCH = "fairness"
FLOOD_CLIENTS = 50
FLOOD_S = 10.0
BASELINE_CALLS = 50
LOOP = "function handle(i) { while (true) {} }"
FAST = "function handle(i) { return i; }"
BUSY_40_MS = "function handle(i) { const end = Date.now() + 40; while (Date.now() < end) {} return i; }"
BACKLOG = 1500
IDLE_RUNS = 5


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def _function(url: str, key: str, name: str, source: str, limits: dict | None = None) -> str:
    body = {"name": name, "language": "javascript", "source": source, "resourceLimits": limits or {}}
    headers = {"Authorization": f"Bearer {key}"}
    created = requests.post(f"{url}/functions", json=body, headers=headers, timeout=30)
    if created.status_code != 201:
        raise BenchError(f"POST /functions answered {created.status_code}: {created.text[:300]}")
    deadline = time.monotonic() + 60
    while (
        requests.get(f"{url}/functions/{name}", headers=headers, timeout=30).json()["status"]
        != CompileStatus.READY
    ):
        if time.monotonic() > deadline:
            raise BenchError(f"{name} did not compile within 60 s")
        time.sleep(0.05)
    return name


REFUSED = (429, 503)


@dataclass(kw_only=True, slots=True)
class Calls:
    """Sequential executes of B's function: latencies of the answered ones, refusals apart."""

    latencies_ms: list[float] = field(default_factory=list)
    refused: int = 0  # 429/503: the server said "come back later"; no latency to speak of
    failed: int = 0  # any other non-200 answer

    @property
    def count(self) -> int:
        return len(self.latencies_ms) + self.refused + self.failed


def _timed_calls(session: requests.Session, url: str, key: str, stop: threading.Event | None, count: int):
    """Call B's fast function one call at a time, count calls or until stop; a Calls."""
    calls = Calls()
    headers = {"Authorization": f"Bearer {key}"}
    while (stop is None and calls.count < count) or (stop is not None and not stop.is_set()):
        started = time.perf_counter()
        answer = session.post(
            f"{url}/functions/fast/execute", json={"input": {"n": 1}}, headers=headers, timeout=60
        )
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code == 200:
            calls.latencies_ms.append(elapsed)
        elif answer.status_code in REFUSED:
            calls.refused += 1
        else:
            calls.failed += 1
    return calls


class _Prober(threading.Thread):
    """A thread whose exception is kept: a prober that died fails the bench."""

    def __init__(self, target) -> None:
        super().__init__(daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the bench thread
            self.error = exc


def _queued_until_done(conn: psycopg.Connection, tenant_id, function_id) -> float:
    """Seconds from the commit of one queued execution until it reads COMPLETED."""
    row, _ = enqueue_execution(
        conn, tenant_id=tenant_id, function_id=function_id, input={}, trigger_type="API"
    )
    started = time.perf_counter()
    deadline = started + 300
    while True:
        status = conn.execute("SELECT status FROM executions WHERE id = %s", (row["id"],)).fetchone()[0]
        if status == ExecutionStatus.COMPLETED:
            return time.perf_counter() - started
        if status not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
            raise BenchError(f"the other tenant's queued execution ended {status}")
        if time.perf_counter() > deadline:
            raise BenchError("the other tenant's queued execution did not complete within 300 s")
        time.sleep(0.002)


def queued_behind_backlog(stack: Stack, key_a: str, key_b: str) -> list[dict]:
    """B's queued execution, idle and then behind A's backlog of BACKLOG executions of 40 ms."""
    url = stack.base_url
    _function(url, key_a, "busy", BUSY_40_MS)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        ids = dict(conn.execute("SELECT name, id FROM functions WHERE name IN ('busy', 'fast')").fetchall())
        tenant = dict(conn.execute("SELECT id, tenant_id FROM functions").fetchall())
        busy, fast = uuid.UUID(str(ids["busy"])), uuid.UUID(str(ids["fast"]))
        idle = sorted(_queued_until_done(conn, tenant[fast], fast) for _ in range(IDLE_RUNS))[IDLE_RUNS // 2]
        with conn.transaction():
            for i in range(BACKLOG):
                enqueue_execution(
                    conn, tenant_id=tenant[busy], function_id=busy, input={"i": i}, trigger_type="API"
                )
        behind = _queued_until_done(conn, tenant[fast], fast)
        ahead = conn.execute(
            "SELECT count(*) FROM executions WHERE function_id = %s AND status <> "
            f"'{ExecutionStatus.PENDING}'",
            (busy,),
        ).fetchone()[0]
        # The rest of the backlog is of no interest: its executions end CANCELLED, never run.
        conn.execute(
            f"UPDATE executions SET status = '{ExecutionStatus.CANCELLED}', completed_at = now() "
            f"WHERE function_id = %s AND status = '{ExecutionStatus.PENDING}'",
            (busy,),
        )
    return [
        emit(
            BENCH,
            "other_tenant_queued_behind_backlog_s",
            behind,
            "s",
            backlog=BACKLOG,
            backlog_execution_ms=40,
            backlog_started_meanwhile=ahead,
            idle_s=round(idle, 4),
            goal="<= 1",
        )
    ]


def run(*, flood_s: float = FLOOD_S, database_url: str | None = None) -> list[dict]:
    env = {"WEB_CONCURRENCY": "2", "PNIL_ALLOW_ANONYMOUS": "0"}
    with Stack(
        ("web", "compiler", "consumer", "executor"),
        extra_env=env,
        database_url=database_url or env_database_url(),
    ) as stack:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            key_a = tenants.create_key(conn, "flooder", name="a")[1]
            key_b = tenants.create_key(conn, "neighbour", name="b")[1]
        url = stack.base_url
        _function(url, key_a, "loop", LOOP, {"maxExecutionTimeMs": 1000, "maxConcurrentRuns": 50})
        _function(url, key_b, "fast", FAST)
        with requests.Session() as session:
            _timed_calls(session, url, key_b, None, 5)  # warm both workers' sandboxes
            baseline = _timed_calls(session, url, key_b, None, BASELINE_CALLS)
        if not baseline.latencies_ms:
            raise BenchError(f"no baseline call was answered: {baseline}")

        stop = threading.Event()
        flood = {"ran": 0, "refused": 0}
        lock = threading.Lock()

        def flooder() -> None:
            headers = {"Authorization": f"Bearer {key_a}"}
            with requests.Session() as own:
                while not stop.is_set():
                    answer = own.post(
                        f"{url}/functions/loop/execute", json={"input": {}}, headers=headers, timeout=60
                    )
                    with lock:
                        flood["ran" if answer.status_code == 200 else "refused"] += 1
                    if answer.status_code == 429:  # told to come back: as a client following the API does
                        time.sleep(float(answer.headers.get("Retry-After", "1")))

        health: list[float] = []
        health_refused = [0]

        def poll_health() -> None:
            with requests.Session() as own:
                while not stop.is_set():
                    started = time.perf_counter()
                    answer = own.get(f"{url}/health", timeout=60)
                    if answer.status_code == 200:
                        health.append((time.perf_counter() - started) * 1000)
                    else:
                        health_refused[0] += 1
                    time.sleep(0.05)

        threads = [_Prober(flooder) for _ in range(FLOOD_CLIENTS)] + [_Prober(poll_health)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # let the flood fill every slot first
        timer = threading.Timer(flood_s, stop.set)
        timer.start()
        with requests.Session() as session:
            calls = _timed_calls(session, url, key_b, stop, 0)
        stop.set()
        for thread in threads:
            thread.join(120)
        queued = queued_behind_backlog(stack, key_a, key_b)
    dead = [t.error for t in threads if t.error is not None]
    if dead:
        raise BenchError(f"{len(dead)} prober thread(s) died, first: {dead[0]!r}")
    if any(t.is_alive() for t in threads):
        raise BenchError("a prober thread did not stop within 120 s")
    during = calls.latencies_ms
    if not during:
        raise BenchError(
            f"no call of the other tenant was answered during the flood ({calls.refused} refused)"
        )
    if not health:
        raise BenchError(f"no GET /health was answered 200 during the flood ({health_refused[0]} were not)")
    answered = {"n": len(during), "refused": calls.refused, "failed": calls.failed}
    return [
        emit(BENCH, "other_tenant_p99_ms", _p99(during), "ms", **answered, goal="<= 100"),
        emit(BENCH, "other_tenant_max_ms", max(during), "ms", **answered, goal="<= 1000"),
        emit(BENCH, "other_tenant_refused", calls.refused, "count", calls=calls.count),
        emit(
            BENCH,
            "health_max_ms",
            max(health),
            "ms",
            n=len(health),
            not_200=health_refused[0],
            goal="<= 1000",
        ),
        emit(
            BENCH,
            "other_tenant_p50_ms",
            p50(during),
            "ms",
            baseline_p50_ms=round(p50(baseline.latencies_ms), 2),
        ),
        emit(BENCH, "other_tenant_p50_vs_baseline", p50(during) / p50(baseline.latencies_ms), "ratio"),
        emit(BENCH, "flood_executions", flood["ran"], "count", refused_429=flood["refused"], seconds=flood_s),
        *queued,
    ]
