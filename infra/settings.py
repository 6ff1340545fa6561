"""Settings read from the environment; only entry points call `Settings.from_env()`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from infra.storage_bounds import DEFAULT_QUOTAS, DEFAULT_RETENTION, Quotas, Retention

MIB = 1024 * 1024
# What DATABASE_URL points at: PostgreSQL itself, or a PgBouncer in that pool mode.
POOLERS = ("none", "session", "transaction")
# Events caused by this many chained event-triggered executions are recorded, not delivered.
MAX_EVENT_DEPTH = 8


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def _positive_float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Every knob of a pnil process; see the README's configuration table."""

    database_url: str
    allow_anonymous: bool = False
    allow_anonymous_remote: bool = False
    max_body_bytes: int = 2 * MIB
    max_source_bytes: int = 1 * MIB
    runner_pool_size: int = 3
    max_execution_time_cap_ms: int = 300_000
    max_memory_cap_bytes: int = 512 * MIB
    max_output_cap_bytes: int = 16 * MIB
    compile_timeout_s: float = 60.0
    compile_slots: int = 2
    compiler_warm_start: bool = True
    db_timeout_s: float = 5.0
    log_level: str = "INFO"
    slot_wait_s: float = 10.0
    sweep_every_s: float = 5.0
    metrics_public: bool = False
    web_threads: int = 32
    tenant_wait_s: float = 2.0
    log_format: str = "json"
    quotas: Quotas = field(default_factory=Quotas)
    retention: Retention = field(default_factory=Retention)
    secret_key: str | None = None
    secret_keys_previous: tuple[str, ...] = ()
    web_pool_size: int = 3
    executor_pool_size: int = 1
    scheduler_pool_size: int = 1
    scheduler_resync_s: float = 60.0
    pooler: str = "none"
    trusted_proxies: int = 0
    http_route_cache_s: float = 60.0
    max_event_depth: int = MAX_EVENT_DEPTH

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read PNIL_* variables and DATABASE_URL."""
        env = dict(os.environ if env is None else env)
        url = env.get("DATABASE_URL", "").strip()
        if not url:
            raise RuntimeError(
                "DATABASE_URL is not set: point it at a PostgreSQL server, "
                "or start everything with `make run`, which starts an embedded one"
            )
        pooler = (env.get("PNIL_DATABASE_POOLER") or "none").strip().lower()
        if pooler not in POOLERS:
            raise ValueError(f"PNIL_DATABASE_POOLER must be one of {', '.join(POOLERS)}, got {pooler!r}")
        if pooler == "transaction":
            raise RuntimeError(
                "PNIL_DATABASE_POOLER=transaction: pnil cannot run behind a transaction-mode pooler "
                "(PgBouncer pool_mode=transaction): concurrency slots are session advisory locks and "
                "cancels and wake-ups use LISTEN, both of which need the same server session for the "
                "connection's life. Point DATABASE_URL at PostgreSQL or a session-mode pool."
            )
        return cls(
            database_url=url,
            allow_anonymous=_flag(env.get("PNIL_ALLOW_ANONYMOUS")),
            allow_anonymous_remote=_flag(env.get("PNIL_ALLOW_ANONYMOUS_REMOTE")),
            max_body_bytes=_int(env, "PNIL_MAX_BODY_BYTES", 2 * MIB),
            max_source_bytes=_int(env, "PNIL_MAX_SOURCE_BYTES", 1 * MIB),
            runner_pool_size=_int(env, "PNIL_RUNNER_POOL_SIZE", 3),
            max_execution_time_cap_ms=_int(env, "PNIL_MAX_EXECUTION_TIME_CAP_MS", 300_000),
            max_memory_cap_bytes=_int(env, "PNIL_MAX_MEMORY_CAP_BYTES", 512 * MIB),
            max_output_cap_bytes=_int(env, "PNIL_MAX_OUTPUT_CAP_BYTES", 16 * MIB),
            compile_timeout_s=float(env.get("PNIL_COMPILE_TIMEOUT_S") or 60.0),
            compile_slots=_int(env, "PNIL_COMPILE_SLOTS", 2),
            compiler_warm_start=_flag(env.get("PNIL_COMPILER_WARM_START") or "1"),
            db_timeout_s=float(env.get("PNIL_DB_TIMEOUT_S") or 5.0),
            log_level=log_level_from(env),
            slot_wait_s=float(env.get("PNIL_SLOT_WAIT_S") or 10.0),
            sweep_every_s=float(env.get("PNIL_SWEEP_EVERY_S") or 5.0),
            metrics_public=_flag(env.get("PNIL_METRICS_PUBLIC")),
            web_threads=_int(env, "PNIL_WEB_THREADS", 32),
            tenant_wait_s=float(env.get("PNIL_TENANT_WAIT_S") or 2.0),
            log_format=log_format_from(env),
            quotas=Quotas(
                functions=_positive(env, "PNIL_QUOTA_FUNCTIONS", DEFAULT_QUOTAS.functions),
                kv_keys=_positive(env, "PNIL_QUOTA_KV_KEYS", DEFAULT_QUOTAS.kv_keys),
                kv_bytes=_positive(env, "PNIL_QUOTA_KV_BYTES", DEFAULT_QUOTAS.kv_bytes),
                pending_executions=_positive(
                    env, "PNIL_QUOTA_PENDING_EXECUTIONS", DEFAULT_QUOTAS.pending_executions
                ),
            ),
            retention=Retention(
                execution_days=_positive(
                    env, "PNIL_EXECUTION_RETENTION_DAYS", DEFAULT_RETENTION.execution_days
                ),
                event_days=_positive(env, "PNIL_EVENT_RETENTION_DAYS", DEFAULT_RETENTION.event_days),
                versions_kept=_positive(env, "PNIL_VERSIONS_KEPT", DEFAULT_RETENTION.versions_kept),
                prune_every_s=float(env.get("PNIL_PRUNE_EVERY_S") or DEFAULT_RETENTION.prune_every_s),
                artifact_retention_s=_positive(
                    env, "PNIL_ARTIFACT_RETENTION_S", DEFAULT_RETENTION.artifact_retention_s
                ),
            ),
            secret_key=secret_key_from(env),
            secret_keys_previous=tuple(
                k.strip() for k in (env.get("PNIL_SECRET_KEY_PREVIOUS") or "").split(",") if k.strip()
            ),
            web_pool_size=_int(env, "PNIL_WEB_POOL_SIZE", 3),
            executor_pool_size=_int(env, "PNIL_EXECUTOR_POOL_SIZE", 1),
            scheduler_pool_size=_int(env, "PNIL_SCHEDULER_POOL_SIZE", 1),
            scheduler_resync_s=_positive_float(env, "PNIL_SCHEDULER_RESYNC_S", 60.0),
            pooler=pooler,
            trusted_proxies=_int(env, "PNIL_TRUSTED_PROXIES", 0),
            http_route_cache_s=float(env.get("PNIL_HTTP_ROUTE_CACHE_S") or 60.0),
            max_event_depth=_positive(env, "PNIL_MAX_EVENT_DEPTH", MAX_EVENT_DEPTH),
        )

    def for_process(self, name: str) -> Settings:
        """These settings with the database URL naming the process (`application_name`
        pnil-NAME in pg_stat_activity, how the connection budget is checked); an
        `application_name` in DATABASE_URL labels the host: pnil-NAME@LABEL."""
        label = conninfo_to_dict(self.database_url).get("application_name")
        process = f"pnil-{name}@{label}" if label else f"pnil-{name}"
        return replace(self, database_url=make_conninfo(self.database_url, application_name=process))


def local_dir(env: dict[str, str], project_root: Path) -> Path:
    """Where `make run` keeps the local operator's admin key and secret key: PNIL_LOCAL_DIR, else .pnil."""
    raw = (env.get("PNIL_LOCAL_DIR") or "").strip()
    return Path(raw).resolve() if raw else project_root / ".pnil"


# -- read by entry points before a database is known (`make run`, gunicorn.conf.py, __main__s) --
def log_level_from(env: Mapping[str, str]) -> str:
    """PNIL_LOG_LEVEL (default INFO), upper case; also read by `make run` before any database."""
    return (env.get("PNIL_LOG_LEVEL") or "INFO").strip().upper()


def log_format_from(env: Mapping[str, str]) -> str:
    """PNIL_LOG_FORMAT: `json` (the default) or `console`."""
    return (env.get("PNIL_LOG_FORMAT") or "json").strip().lower()


def local_run_log_format(env: Mapping[str, str]) -> str:
    """PNIL_LOG_FORMAT for `make run`: readable `console` lines for a person at the terminal unless
    set (the Procfile's default elsewhere stays JSON)."""
    return log_format_from(env) if (env.get("PNIL_LOG_FORMAT") or "").strip() else "console"


def pgdata_from(env: Mapping[str, str]) -> Path | None:
    """PNIL_PGDATA: the embedded PostgreSQL's data folder, when not the checkout's `.pgdata`."""
    raw = (env.get("PNIL_PGDATA") or "").strip()
    return Path(raw).resolve() if raw else None


def web_threads_from(env: Mapping[str, str]) -> int:
    """PNIL_WEB_THREADS: threads per gunicorn worker (32)."""
    return _int(env, "PNIL_WEB_THREADS", 32)


def web_timeout_s_from(env: Mapping[str, str]) -> int:
    """PNIL_WEB_TIMEOUT_S: gunicorn replaces a worker silent for this long (360)."""
    return _int(env, "PNIL_WEB_TIMEOUT_S", 360)


def scheduler_speed_from(env: Mapping[str, str]) -> float:
    """PNIL_SCHEDULER_SPEED (tests and benchmarks only): the scheduler's clock runs this many
    times faster than real time (1)."""
    return float(env.get("PNIL_SCHEDULER_SPEED") or 1)


def worker_concurrency_from(env: Mapping[str, str], name: str | None, default: int) -> int:
    """Threads per queue of a worker: PNIL_<NAME>_CONCURRENCY, else PNIL_CONCURRENCY, else default."""
    if name and (env.get(f"PNIL_{name.upper()}_CONCURRENCY") or "").strip():
        return _int(env, f"PNIL_{name.upper()}_CONCURRENCY", default)
    return _int(env, "PNIL_CONCURRENCY", default)


def anonymous_chosen(env: Mapping[str, str]) -> bool | None:
    """PNIL_ALLOW_ANONYMOUS as `make run` sees it: on, off, or None when not set at all."""
    return _flag(env.get("PNIL_ALLOW_ANONYMOUS")) if "PNIL_ALLOW_ANONYMOUS" in env else None


def secret_key_from(env: Mapping[str, str]) -> str | None:
    """PNIL_SECRET_KEY, None when unset or empty."""
    return (env.get("PNIL_SECRET_KEY") or "").strip() or None


def set_for_processes(
    env: dict[str, str],
    *,
    allow_anonymous: bool | None = None,
    secret_key: str | None = None,
    log_format: str | None = None,
) -> None:
    """Write what `make run` chose into the environment of the processes it starts."""
    if allow_anonymous is not None:
        env["PNIL_ALLOW_ANONYMOUS"] = "1" if allow_anonymous else "0"
    if secret_key is not None:
        env["PNIL_SECRET_KEY"] = secret_key
    if log_format is not None:
        env["PNIL_LOG_FORMAT"] = log_format
