"""`make run`: embedded PostgreSQL (unless DATABASE_URL), migrations, then every Procfile process,
restarted when it dies (infra/supervisor.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from infra.embedded_postgres import PROJECT_ROOT, data_dir_from, start_embedded
from infra.logs import configure_logging
from infra.stopping import StopSignals
from infra.supervisor import Supervisor, long_running, read_procfile
from migrations import apply_migrations


def main() -> int:
    configure_logging("run")
    # First of all: a signal from here on is a flag the steps below look at, never a lock.
    signals = StopSignals().install()
    env = dict(os.environ)
    server = None
    if not env.get("DATABASE_URL"):
        data_dir = data_dir_from(env)
        print(f"==> starting the embedded PostgreSQL in {data_dir}", flush=True)
        server = start_embedded(data_dir)
        env["DATABASE_URL"] = server.get_uri()
    print("==> applying migrations, installing pgmq, creating queues", flush=True)
    apply_migrations(env["DATABASE_URL"])
    if "PNIL_ALLOW_ANONYMOUS" not in env:
        env["PNIL_ALLOW_ANONYMOUS"] = "1"
        print(
            "==> anonymous access is ON for this local run (requests without an API key "
            "belong to the 'default' tenant); set PNIL_ALLOW_ANONYMOUS=0 to turn it off",
            flush=True,
        )
    env.setdefault("PORT", "8080")
    # Readable lines for a person at the terminal; the Procfile's default elsewhere stays JSON.
    env.setdefault("PNIL_LOG_FORMAT", "console")
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
    code = supervisor.run()
    if server is not None:
        print("==> stopping the embedded PostgreSQL", flush=True)
        server.cleanup()
    # 0 when stopped on request (Ctrl-C / SIGTERM), 1 when a process kept dying at start.
    return code


if __name__ == "__main__":
    sys.exit(main())
