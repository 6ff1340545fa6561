"""GET /metrics (Prometheus text format) and the per-request latency metric and access log line."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from broker.pgmq import queue_stats
from contracts.queues import QUEUES
from infra import metrics
from infra.logs import event
from store import execution_lists, retention, storage
from web.auth import require_admin
from web.db import pool, settings

log = logging.getLogger("web.access")
blp = Blueprint("metrics", __name__)


def install(app: Flask) -> None:
    """Time every request (first hook, so auth is timed too) and log one access line for it."""
    app.before_request(_start_timer)
    app.after_request(_observe)


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is None:
        return response
    duration = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "(no route)"
    metrics.http_request(route, request.method, response.status_code, duration)
    event(
        log,
        "http.request",
        level=logging.DEBUG if _console_read(response.status_code) else logging.INFO,
        method=request.method,
        path=request.path,
        route=route,
        status=response.status_code,
        durationMs=round(duration * 1000, 2),
        # The client (behind PNIL_TRUSTED_PROXIES proxies: the address they forwarded).
        clientIp=request.remote_addr,
    )
    return response


def _console_read(status: int) -> bool:
    """The console's own pages and polling and the health probes (reads that succeed): access
    lines at DEBUG only, so a local run's terminal is not filled by an open browser tab."""
    if request.method not in ("GET", "HEAD") or status >= 400:
        return False
    return (
        request.headers.get(CONSOLE_HEADER) == "console"
        or request.path.startswith(("/console", "/favicon"))
        or request.path == "/health"
    )


# The console marks its API calls with this header (web/console/static/app.js).
CONSOLE_HEADER = "X-Pnil-Client"


class QueueCollector:
    """pgmq's own figures per queue and the delayed executions waiting, read at scrape time
    (never stale, nothing to keep in sync)."""

    def collect(self):
        depth = GaugeMetricFamily(
            "pnil_queue_depth", "Visible messages waiting for a worker", labels=["queue"]
        )
        in_flight = GaugeMetricFamily(
            "pnil_queue_in_flight", "Invisible messages: being worked on or backing off", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "pnil_queue_oldest_message_age_seconds",
            "Age of the oldest message (0 when empty)",
            labels=["queue"],
        )
        dead = GaugeMetricFamily("pnil_queue_dead_letters", "Messages archived as dead", labels=["queue"])
        delayed = GaugeMetricFamily(
            "pnil_executions_delayed_waiting",
            "Queued executions waiting for their scheduledFor (delayMs, runAt, a retry's backoff)",
        )
        with pool().connection() as conn:
            for q in queue_stats(conn, QUEUES):
                depth.add_metric([q["queue"]], q["depth"])
                in_flight.add_metric([q["queue"]], q["inFlight"])
                oldest.add_metric([q["queue"]], q["oldestMessageAgeSeconds"] or 0)
                dead.add_metric([q["queue"]], q["deadLettered"])
            delayed.add_metric([], execution_lists.count_delayed(conn))
        return [depth, in_flight, oldest, dead, delayed]


class StorageCollector:
    """Rows and bytes per table and the last retention prune, read at scrape time from the catalog."""

    def collect(self):
        rows = GaugeMetricFamily("pnil_table_rows", "Rows per table (estimate past 20000)", labels=["table"])
        size = GaugeMetricFamily(
            "pnil_table_bytes", "Bytes per table with indexes and partitions", labels=["table"]
        )
        pruned_at = GaugeMetricFamily(
            "pnil_last_prune_timestamp_seconds", "When the last retention prune ended"
        )
        removed = GaugeMetricFamily("pnil_last_prune_removed", "What the last prune removed", labels=["kind"])
        with pool().connection() as conn:
            for table in storage.tables(conn, [f"pgmq.q_{queue}" for queue in QUEUES]):
                rows.add_metric([table["table"]], table["rows"])
                size.add_metric([table["table"]], table["bytes"])
            last = retention.last_prune(conn)
        if last is not None and last["finished_at"] is not None:
            pruned_at.add_metric([], last["finished_at"].timestamp())
            for kind, count in last["removed"].items():
                removed.add_metric([kind], count)
        return [rows, size, pruned_at, removed]


class _ThisProcess:
    """The default registry's metrics (when not in multiprocess mode)."""

    def collect(self):
        return REGISTRY.collect()


@blp.get("/metrics")
def scrape() -> Response:
    """Every process's metrics (multiprocess mode) or this process's, plus the queues."""
    if not settings().metrics_public:
        require_admin()
    registry = CollectorRegistry()
    if metrics.MULTIPROCESS_DIR:
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(QueueCollector())
    registry.register(StorageCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
