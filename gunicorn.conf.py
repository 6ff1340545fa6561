"""gunicorn settings for the `web` process, from the environment (see README, Configuration)."""

import multiprocessing
import os
import shutil
import tempfile

from infra.settings import log_level_from, web_threads_from, web_timeout_s_from

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count())))
# gunicorn's gthread worker, keeping a busy keep-alive connection on its thread (web/gunicorn_worker.py).
worker_class = "web.gunicorn_worker.LingeringThreadWorker"
# Many threads: a request waiting for a sandbox holds one, and every connection should get a
# thread rather than queue behind another tenant's waiting requests (see executions/fairness.py).
threads = web_threads_from(os.environ)
# Each worker builds its own app, database pool and runner pool after the fork.
preload_app = False
timeout = web_timeout_s_from(os.environ)
graceful_timeout = 30
keepalive = 5
# The worker heartbeat file lives in memory, not on disk (gunicorn touches it on every request).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = None
errorlog = "-"
loglevel = log_level_from(os.environ).lower()
# gunicorn's own limits sit above the app's (web/request_limits.py: 4096-character targets, 8 KiB
# headers), so a request just over pnil's limits gets pnil's JSON answer, not gunicorn's HTML.
# 8190 is the largest finite request line gunicorn allows.
limit_request_line = 8190
limit_request_field_size = 32768
# pnil does not use gunicorn's control interface; a shared default socket (~/.gunicorn/gunicorn.ctl)
# would let a second instance on the host take the first one's.
control_socket_disable = True

# Metrics: every worker writes to one directory that /metrics adds up (prometheus_client's
# multiprocess mode). Set PROMETHEUS_MULTIPROC_DIR to share it with the host's other pnil
# processes; otherwise a fresh directory of this server's own.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir = os.path.join(tempfile.gettempdir(), f"pnil-metrics-web-{os.environ.get('PORT', '8080')}")
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    """Refuse anonymous access on an address other machines reach (infra/exposure.py)."""
    from infra.exposure import AnonymousExposed, check_anonymous_bind
    from infra.settings import Settings

    settings = Settings.from_env()
    try:
        warning = check_anonymous_bind(
            allow_anonymous=settings.allow_anonymous,
            allow_remote=settings.allow_anonymous_remote,
            addresses=list(server.cfg.address),
        )
    except AnonymousExposed as exc:
        raise SystemExit(str(exc)) from None
    if warning:
        for _ in range(3):  # loud: it must not scroll by unseen
            server.log.warning(warning)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # Start the worker's sandbox pool now rather than on the first execute; /ready says when.
    from web.health import start_warming

    start_warming(worker.wsgi)
