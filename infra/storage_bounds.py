"""What pnil stores stays bounded: the server-wide quotas and retention windows of every tenant.

A tenant's own values (`PUT /admin/tenants/{name}`, columns of `tenants`) override these; a
NULL column means "the server's setting". Only `infra/settings.py` builds them from PNIL_*.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024 * 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class Quotas:
    """How much one tenant may hold; past it the write is refused with a 4xx saying which."""

    functions: int = 1000
    kv_keys: int = 100_000
    kv_bytes: int = 1 * GIB
    pending_executions: int = 10_000


@dataclass(frozen=True, kw_only=True, slots=True)
class Retention:
    """How long history is kept and how often the executor's housekeeping prunes it."""

    execution_days: int = 30
    event_days: int = 7
    versions_kept: int = 100
    prune_every_s: float = 300.0
    # A compiled artifact no register, update or rollback has reused for this long is deleted.
    artifact_retention_s: int = 30 * 24 * 3600


# What a tenant override may be named in the API, and its column in `tenants`.
TENANT_FIELDS = {
    "executionRetentionDays": "execution_retention_days",
    "eventRetentionDays": "event_retention_days",
    "maxFunctions": "max_functions",
    "maxKvKeys": "max_kv_keys",
    "maxKvBytes": "max_kv_bytes",
    "maxPendingExecutions": "max_pending_executions",
}


def server_defaults(quotas: Quotas, retention: Retention) -> dict[str, int]:
    """The server-wide value of every tenant field, by column."""
    return {
        "execution_retention_days": retention.execution_days,
        "event_retention_days": retention.event_days,
        "max_functions": quotas.functions,
        "max_kv_keys": quotas.kv_keys,
        "max_kv_bytes": quotas.kv_bytes,
        "max_pending_executions": quotas.pending_executions,
    }


DEFAULT_QUOTAS = Quotas()
DEFAULT_RETENTION = Retention()
