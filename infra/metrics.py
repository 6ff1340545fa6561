"""Prometheus metrics every pnil process records (exposed by the web process at /metrics).

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py and `make run` set it), each process writes
its samples to files in that directory and /metrics adds up every process on the host: all
gunicorn workers, and the compiler, consumer and executor when they share the directory. It must
be set before this module is imported, as prometheus_client chooses its storage on import.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Histogram

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_COMPILE = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

EXECUTIONS = Counter(
    "pnil_executions_total", "Executions that ended, by outcome", ("status", "language", "trigger")
)
EXECUTION_SECONDS = Histogram(
    "pnil_execution_duration_seconds", "Time in the sandbox per execution", ("language",), buckets=_FAST
)
QUEUE_WAIT_SECONDS = Histogram(
    "pnil_execution_queue_wait_seconds",
    "From a queued execution's creation until it started",
    ("trigger",),
    buckets=_FAST,
)
COMPILATIONS = Counter(
    "pnil_compilations_total", "Compile jobs finished, by outcome", ("language", "outcome")
)
COMPILE_SECONDS = Histogram(
    "pnil_compile_duration_seconds", "Time to compile or check one source", ("language",), buckets=_COMPILE
)
HTTP_SECONDS = Histogram(
    "pnil_http_request_duration_seconds",
    "API request latency by route template, method and status",
    ("route", "method", "status"),
    buckets=_FAST,
)
RETRIES = Counter(
    "pnil_execution_retries_total",
    "Failed attempts of queued executions that got a next attempt",
    ("trigger",),
)
FINAL_FAILURES = Counter(
    "pnil_execution_final_failures_total",
    "Queued executions that failed for good (no attempt left, not retryable, expired)",
    ("trigger",),
)
RUNNER_RESTARTS = Counter("pnil_runner_restarts_total", "Sandbox subprocesses replaced after dying")


def execution_ended(
    status: str, language: str, trigger: str, duration_s: float, queue_wait_s: float | None = None
) -> None:
    EXECUTIONS.labels(status, language, trigger).inc()
    EXECUTION_SECONDS.labels(language).observe(duration_s)
    if queue_wait_s is not None:
        QUEUE_WAIT_SECONDS.labels(trigger).observe(max(queue_wait_s, 0.0))


def retry_scheduled(trigger: str) -> None:
    RETRIES.labels(trigger).inc()


def final_failure(trigger: str) -> None:
    FINAL_FAILURES.labels(trigger).inc()


def compile_ended(language: str, success: bool, duration_s: float) -> None:
    COMPILATIONS.labels(language, "success" if success else "failure").inc()
    COMPILE_SECONDS.labels(language).observe(duration_s)


def http_request(route: str, method: str, status: int, duration_s: float) -> None:
    HTTP_SECONDS.labels(route, method, str(status)).observe(duration_s)
