"""gunicorn settings for the `web` process, from the environment (see README, Configuration)."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("PNIL_WEB_THREADS", 8))
# Each worker builds its own app, database pool and runner pool after the fork.
preload_app = False
timeout = int(os.environ.get("PNIL_WEB_TIMEOUT_S", 360))
graceful_timeout = 30
keepalive = 5
# The worker heartbeat file lives in memory, not on disk (gunicorn touches it on every request).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = None
errorlog = "-"
loglevel = os.environ.get("PNIL_LOG_LEVEL", "info").lower()
# The largest request line/header gunicorn accepts; bodies are limited by the app.
limit_request_field_size = 16384
# pnil does not use gunicorn's control interface; a shared default socket (~/.gunicorn/gunicorn.ctl)
# would let a second instance on the host take the first one's.
control_socket_disable = True
