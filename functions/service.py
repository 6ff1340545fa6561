"""The function write path: each change in one transaction with its compile job and domain event.

Routes call `FunctionService` and map its answers (rows) and refusals (`functions.errors`) to HTTP;
nothing here knows about requests.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import psycopg

from contracts.statuses import CompileStatus, LifecycleState
from events import domain
from functions import routing
from functions.errors import (
    FunctionConflict,
    FunctionNotFound,
    InvalidFunction,
    SourceTooLarge,
    VersionNotFound,
)
from infra import limits
from infra.database import ForkSafePool
from infra.logs import event
from infra.storage_bounds import DEFAULT_QUOTAS, DEFAULT_RETENTION, Quotas
from store import events as events_store
from store import functions as store
from store import http_bindings, lifecycle, quotas, staged
from store import secrets as secret_store
from tasks.publish import compile_or_reuse, compile_staged

log = logging.getLogger(__name__)
Row = dict[str, Any]


class FunctionService:
    """Register, update, stage, roll back, change the state of and delete a tenant's functions."""

    def __init__(
        self,
        db: ForkSafePool,
        *,
        max_source_bytes: int,
        caps: Mapping[str, int],
        quotas: Quotas = DEFAULT_QUOTAS,
        event_retention_days: int = DEFAULT_RETENTION.event_days,
    ) -> None:
        self.db = db
        self.event_retention_days = event_retention_days
        self.max_source_bytes = max_source_bytes
        self.caps = dict(caps)  # resource-limit name (maxExecutionTimeMs, ...) -> the highest allowed
        self.quotas = quotas

    # -- reads ------------------------------------------------------------------------------
    def get(self, tenant_id: uuid.UUID, function_id: uuid.UUID) -> Row:
        """The tenant's function (FunctionNotFound for another tenant's too)."""
        with self.db.connection() as conn:
            return _find(conn, tenant_id, function_id)

    def list_page(self, tenant_id: uuid.UUID, **filters: Any) -> list[Row]:
        """A page of the tenant's functions, newest first (`store.functions.list_page`'s filters)."""
        with self.db.connection() as conn:
            return store.list_page(conn, tenant_id, **filters)

    def versions(self, tenant_id: uuid.UUID, function_id: uuid.UUID) -> list[Row]:
        """Every version of the function, newest first."""
        with self.db.connection() as conn:
            _find(conn, tenant_id, function_id)
            return store.versions(conn, tenant_id, function_id)

    def version(self, tenant_id: uuid.UUID, function_id: uuid.UUID, number: int) -> Row:
        """One version with its source."""
        with self.db.connection() as conn:
            _find(conn, tenant_id, function_id)
            return _version(conn, tenant_id, function_id, number)

    # -- writes -----------------------------------------------------------------------------
    def check_sizes_and_caps(self, data: Mapping[str, Any]) -> None:
        """Refuse a source over the size limit or resource limits over the operator's caps."""
        source = data.get("source")
        if source is not None and len(source.encode()) > self.max_source_bytes:
            raise SourceTooLarge(f"source is larger than the limit of {self.max_source_bytes} bytes")
        problems = limits.over_caps(data.get("resource_limits") or {}, self.caps)
        if problems:
            raise InvalidFunction("; ".join(problems))

    def register(self, tenant_id: uuid.UUID, actor: str, data: dict[str, Any]) -> Row:
        """Insert a function and its first version; it compiles in the background (or is READY at
        once from a stored artifact of the same source)."""
        self.check_sizes_and_caps(data)
        description = data.pop("change_description", None)
        with self.db.connection() as conn, conn.transaction():
            _check_secrets_exist(conn, tenant_id, data)
            _check_http_binding(conn, tenant_id, None, data)
            _check_name_free(conn, tenant_id, None, data["name"])
            quotas.check_functions(conn, tenant_id, self.quotas)
            with _name_clash_is_conflict(data["name"]):
                row = store.insert(conn, tenant_id, data, actor=actor, change_description=description)
            row, reused = compile_or_reuse(conn, row)
            domain.script_created(conn, row)
        event(
            log,
            "function.created",
            functionId=str(row["id"]),
            language=row["language"],
            tenantId=str(tenant_id),
        )
        _log_compile(row, reused)
        return row

    def update(self, tenant_id: uuid.UUID, actor: str, function_id: uuid.UUID, data: dict[str, Any]) -> Row:
        """Change fields; a new source or language is a new version and recompiles."""
        self.check_sizes_and_caps(data)
        description = data.pop("change_description", None)
        with self.db.connection() as conn, conn.transaction():
            current = _find(conn, tenant_id, function_id, for_update=True)
            _check_trigger_consistency({**current, **data})
            _check_secrets_exist(conn, tenant_id, data)
            _check_http_binding(conn, tenant_id, function_id, {**current, **data})
            if "state" in data:
                _check_transition(current["state"], data["state"])
            if data.get("name", current["name"]) != current["name"]:
                _check_name_free(conn, tenant_id, function_id, data["name"])
            with _name_clash_is_conflict(data.get("name", "")):
                row, recompile = store.update(
                    conn, current, data, actor=actor, change_description=description
                )
            reused = False
            if recompile:
                row, reused = compile_or_reuse(conn, row)
            domain.script_updated(conn, row, actor)
            if row["state"] != current["state"]:
                domain.script_status_changed(conn, row, current["state"], actor)
        if recompile:
            _log_compile(row, reused)
        event(log, "function.updated", functionId=str(row["id"]), version=row["version"], recompile=recompile)
        return row

    def stage(
        self,
        tenant_id: uuid.UUID,
        actor: str,
        function_id: uuid.UUID,
        *,
        source: str,
        language: str | None = None,
        change_description: str | None = None,
    ) -> Row:
        """Stage a new version that serves once READY; a function without a READY version takes it
        at once (as an update would); staging what already serves drops the staged one."""
        self.check_sizes_and_caps({"source": source})
        with self.db.connection() as conn, conn.transaction():
            row = _find(conn, tenant_id, function_id, for_update=True)
            wanted = (language or row["language"], source)
            pending = staged.pending(conn, row)
            if pending is not None and (pending["language"], pending["source"]) == wanted:
                return row  # already staged: its compile outcome stands
            if row["status"] != CompileStatus.READY:
                row, recompile = store.update(
                    conn,
                    row,
                    dict(zip(("language", "source"), wanted, strict=True)),
                    actor=actor,
                    change_description=change_description,
                )
                if recompile:
                    row, _ = compile_or_reuse(conn, row)
            elif (row["language"], row["source"]) == wanted:
                staged.drop(conn, row)  # back to what serves: nothing to stage
                row = store.get(conn, tenant_id, function_id)
            else:
                staged.stage(conn, row, *wanted, actor=actor, change_description=change_description)
                row, _ = compile_staged(conn, store.get(conn, tenant_id, function_id))
            domain.script_updated(conn, row, actor)
        event(log, "function.staged", functionId=str(function_id), pendingVersion=row.get("pending_version"))
        return row

    def rollback(
        self,
        tenant_id: uuid.UUID,
        actor: str,
        function_id: uuid.UUID,
        version: int,
        *,
        change_description: str | None = None,
    ) -> Row:
        """A new version with an earlier version's source and language (READY at once when that
        source compiled before)."""
        with self.db.connection() as conn, conn.transaction():
            row = _find(conn, tenant_id, function_id, for_update=True)
            old = _version(conn, tenant_id, function_id, version)
            row, _ = store.update(
                conn,
                row,
                {"source": old["source"], "language": old["language"]},
                actor=actor,
                change_description=change_description or f"rollback to version {version}",
                new_version=True,
            )
            row, reused = compile_or_reuse(conn, row)
            domain.script_updated(conn, row, actor)
        event(log, "function.rolled_back", functionId=str(function_id), version=row["version"], to=version)
        _log_compile(row, reused)
        return row

    def set_state(self, tenant_id: uuid.UUID, actor: str, function_id: uuid.UUID, state: str) -> Row:
        """Move the function through its lifecycle (FunctionConflict naming the allowed moves)."""
        with self.db.connection() as conn, conn.transaction():
            row = _find(conn, tenant_id, function_id, for_update=True)
            _check_transition(row["state"], state)
            new, _ = store.update(conn, row, {"state": state}, actor=actor, change_description=None)
            if new["state"] != row["state"]:
                domain.script_status_changed(conn, new, row["state"], actor)
        return new

    def delete(self, tenant_id: uuid.UUID, actor: str, function_id: uuid.UUID) -> None:
        """Delete a function with its versions and executions; its executions' events are kept
        (written to `events`, since GET /events can no longer read them from the executions)."""
        with self.db.connection() as conn, conn.transaction():
            events_store.keep_execution_events(conn, tenant_id, function_id, self.event_retention_days)
            if not store.delete(conn, tenant_id, function_id):
                raise FunctionNotFound(f"function {function_id} not found")
            domain.script_deleted(conn, tenant_id, function_id, actor)
        event(log, "function.deleted", functionId=str(function_id))


def _find(conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, *, for_update=False) -> Row:
    row = store.get(conn, tenant_id, function_id, for_update=for_update)
    if row is None:
        raise FunctionNotFound(f"function {function_id} not found")
    return row


def _version(conn: psycopg.Connection, tenant_id: uuid.UUID, function_id: uuid.UUID, number: int) -> Row:
    found = store.version(conn, tenant_id, function_id, number)
    if found is None:
        raise VersionNotFound(f"function {function_id} has no version {number}")
    return found


def _log_compile(row: Row, reused: bool) -> None:
    name = "compilation.reused" if reused else "compilation.job.published"
    event(log, name, functionId=str(row["id"]), version=row["version"])


def _check_transition(current: str, wanted: str) -> None:
    problem = lifecycle.transition_error(current, wanted)
    if problem:
        raise FunctionConflict(problem)


def _check_name_free(conn: psycopg.Connection, tenant_id, function_id, name: str) -> None:
    """A conflict naming the function that already has this name in the tenant."""
    holder = store.id_by_name(conn, tenant_id, name)
    if holder is not None and holder != function_id:
        raise FunctionConflict(f"a function named {name!r} already exists (id {holder}); choose another name")


@contextmanager
def _name_clash_is_conflict(name: str):
    """A concurrent request that took the name first: the same conflict as the check above."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name != "functions_tenant_name":
            raise
        raise FunctionConflict(f"a function named {name!r} already exists; choose another name") from exc


def _check_http_binding(conn: psycopg.Connection, tenant_id, function_id, merged: Mapping[str, Any]) -> None:
    """A conflict when an HTTP function's path and methods overlap another binding of the tenant."""
    if (
        merged.get("trigger_type") != "HTTP"
        or not merged.get("http_path")
        or merged.get("state") == LifecycleState.ARCHIVED
    ):
        return
    for other in http_bindings.others_locked(conn, tenant_id, function_id):
        if routing.overlaps(
            merged["http_path"], merged.get("http_methods"), other["http_path"], other["http_methods"]
        ):
            raise FunctionConflict(
                f"httpPath {merged['http_path']} overlaps function {other['id']} ({other['name']}) "
                f"bound to {other['http_path']} for the same method; choose another path or other methods"
            )


def _check_secrets_exist(conn: psycopg.Connection, tenant_id, data: dict[str, Any]) -> None:
    names = data.get("secrets")
    if names:
        data["secrets"] = names = list(dict.fromkeys(names))  # each name once, in the order given
        unknown = secret_store.missing(conn, tenant_id, names)
        if unknown:
            listed = ", ".join(unknown)
            raise InvalidFunction(f"unknown secret(s) {listed}: create each with PUT /secrets/NAME first")


def _check_trigger_consistency(merged: Mapping[str, Any]) -> None:
    kind = merged.get("trigger_type")
    needs = {"SCHEDULED": ("cron_expression", "cronExpression"), "HTTP": ("http_path", "httpPath")}
    if kind in needs and not merged.get(needs[kind][0]):
        raise InvalidFunction(f"a {kind} function needs {needs[kind][1]}")
    if kind == "EVENT" and not merged.get("event_types"):
        raise InvalidFunction("an EVENT function needs at least one event type")
