"""Typed results: each API object as a dataclass with snake_case fields, plus the raw JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T", bound="Model")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    """`compileError` → `compile_error`."""
    return _CAMEL.sub("_", name).lower()


@dataclass(frozen=True)
class Model:
    """Built from the server's JSON; fields the server adds later stay reachable in `raw`."""

    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls: type[T], data: dict[str, Any]) -> T:
        known = {f.name for f in fields(cls)} - {"raw"}
        values = {snake(k): v for k, v in data.items() if snake(k) in known}
        return cls(raw=data, **{name: values.get(name) for name in known})


@dataclass(frozen=True)
class Function(Model):
    id: str = ""
    name: str = ""
    language: str = ""
    source: str | None = None
    description: str | None = None
    status: str = ""  # PENDING, COMPILING, READY, FAILED
    compile_error: str | None = None
    version: int = 0  # the version that serves
    pending_version: dict[str, Any] | None = None  # staged, not serving yet: {version, status, compileError…}
    state: str = ""  # DRAFT, ACTIVE, PAUSED, DISABLED, ARCHIVED
    type: str = ""  # ONEOFF (API/SDK), SCHEDULED, HTTP, EVENT
    cron_expression: str | None = None
    timezone: str | None = None
    next_run_at: str | None = None
    last_run_at: str | None = None
    http_path: str | None = None
    http_methods: list[str] | None = None
    event_types: list[str] | None = None
    resource_limits: dict[str, int] | None = None
    retry_policy: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    tags: list[str] | None = None
    allowed_hosts: list[str] | None = None
    http_auth: str | None = None
    misfire_grace_s: int | None = None
    created_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def settled(self) -> bool:
        """Compiled or failed, and no staged version still compiling: nothing more will happen
        until the next change."""
        pending = self.pending_version
        return self.status in ("READY", "FAILED") and (pending is None or pending.get("status") == "FAILED")


@dataclass(frozen=True)
class Execution(Model):
    id: str = ""
    function_id: str = ""
    function_version: int | None = None
    status: str = ""  # PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED
    trigger_type: str = ""
    trigger_data: Any = None
    input: Any = None
    output: Any = None
    error_message: str | None = None
    logs: str | None = None
    metrics: dict[str, Any] | None = None
    created_at: str | None = None
    queued_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    attempt: int | None = None  # 1-based, within its chain of retries
    max_attempts: int | None = None
    retry_of: str | None = None  # the previous attempt
    first_attempt_id: str | None = None
    retried: bool | None = None  # a next attempt followed this one
    retry_policy: dict[str, Any] | None = None
    scheduled_for: str | None = None
    expires_at: str | None = None
    replay_of: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED")

    @property
    def duration_ms(self) -> float | None:
        return (self.metrics or {}).get("durationMs")


@dataclass(frozen=True)
class Version(Model):
    number: int = 0
    language: str = ""
    source: str | None = None
    change_description: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    status: str | None = None
    compile_error: str | None = None


@dataclass(frozen=True)
class QueueStats(Model):
    queue: str = ""
    depth: int = 0
    in_flight: int = 0
    oldest_message_age_seconds: int | None = None
    total_sent: int = 0
    dead_lettered: int = 0


@dataclass(frozen=True)
class ApiKey(Model):
    id: str = ""
    tenant: str = ""
    name: str = ""
    admin: bool = False
    key: str | None = None  # only when just created
    created_at: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None
    scopes: list[str] | None = None
    functions: list[str] | None = None  # an invoke key's functions; None: any
    expires_at: str | None = None


@dataclass(frozen=True)
class Secret(Model):
    """A secret's name and history; its value never comes back from pnil."""

    name: str = ""
    version: int = 0
    created_at: str | None = None
    updated_at: str | None = None
