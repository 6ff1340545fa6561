"""`make run` (`python -m localrun`): embedded PostgreSQL (unless DATABASE_URL), migrations, then
every Procfile process, restarted when it dies (infra/supervisor.py)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

from infra.embedded_postgres import PROJECT_ROOT, data_dir_from, start_embedded
from infra.localrun_banner import announce_when_healthy, forget_server
from infra.logs import configure_logging
from infra.settings import local_run_log_format, log_format_from, log_level_from, set_for_processes
from infra.stopping import StopSignals
from infra.supervisor import Supervisor, long_running, read_procfile
from migrations import apply_migrations
from web import local_operator


def main() -> int:
    # First of all: a signal from here on is a flag the steps below look at, never a lock.
    signals = StopSignals().install()
    env = dict(os.environ)
    # Readable lines for a person at the terminal; the Procfile's default elsewhere stays JSON.
    set_for_processes(env, log_format=local_run_log_format(env))
    configure_logging("run", log_format=log_format_from(env))
    if log_level_from(env) != "DEBUG":
        logging.getLogger("pgserver").setLevel(logging.WARNING)  # its INFO lines are raw dumps
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs
    server = None
    if not env.get("DATABASE_URL"):
        data_dir = data_dir_from(env)
        print(f"==> starting the embedded PostgreSQL in {data_dir}", flush=True)
        server = start_embedded(data_dir)
        env["DATABASE_URL"] = server.get_uri()
    print("==> applying migrations, installing pgmq, creating queues", flush=True)
    apply_migrations(env["DATABASE_URL"])
    # Anonymous access (loopback only), the operator's admin key, the secrets key: web/local_operator.py
    local_operator.prepare(env, PROJECT_ROOT)
    env.setdefault("PORT", "8080")
    # One metrics directory for every process, so the web's /metrics shows them all.
    metrics_dir = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pnil-metrics-")))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    print(
        f"==> starting the Procfile processes; console and API on http://127.0.0.1:{env['PORT']}", flush=True
    )
    supervisor = Supervisor(
        long_running(read_procfile(PROJECT_ROOT / "Procfile")), env=env, cwd=PROJECT_ROOT, signals=signals
    )
    announce_when_healthy(env)
    code = supervisor.run()
    forget_server()
    if server is not None:
        print("==> stopping the embedded PostgreSQL", flush=True)
        server.cleanup()
    # 0 when stopped on request (Ctrl-C / SIGTERM), 1 when a process kept dying at start.
    return code


if __name__ == "__main__":
    sys.exit(main())
