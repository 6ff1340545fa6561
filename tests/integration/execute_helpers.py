"""Helpers shared by the execute API tests (AssemblyScript and JavaScript)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from executions.service import ExecutionService
from infra.database import ForkSafePool
from infra.settings import Settings
from infra.storage_bounds import DEFAULT_RETENTION
from runner.sandbox.pool import RunnerPool
from store import events as events_store
from store.tenants import DEFAULT_TENANT_ID
from tests.conftest import throwaway_database
from tests.integration.conftest import Processes, close_app, wait_for
from web.app import create_app


@contextmanager
def execution_service(db_url: str, **options) -> Iterator[ExecutionService]:
    """An ExecutionService on its own small pool and one sandbox, without the cancel listener."""
    service = ExecutionService(
        ForkSafePool(db_url, max_size=2, name="test"), RunnerPool(1), listen_for_cancels=False, **options
    )
    try:
        yield service
    finally:
        service.close()
        service.db.close()


UNICODE_INPUT = {
    "name": "Zoë ✓ 日本語 🚀",
    "nested": {"list": [1, 2.5, None, True, {"deep": ["a", {"deeper": "ü"}]}], "empty": {}},
    "quote": 'he said "hi"\n\ttab\\',
}


@contextmanager
def running_api(server_url: str, runner_pool_size: int = 2, **settings_fields) -> Iterator:
    """A fresh migrated database, the compile pipeline processes and an app on it."""
    with throwaway_database(server_url) as url:
        processes = Processes(url)
        # Node's asc starts at the first AssemblyScript job, not before the first job of any
        # language (seconds per fresh pipeline; the warm start is tested by the pipeline tests).
        processes.env["PNIL_COMPILER_WARM_START"] = "0"
        processes.compile_pipeline()
        settings = Settings(
            database_url=url, allow_anonymous=True, runner_pool_size=runner_pool_size, **settings_fields
        )
        app = create_app(settings)
        app.config["TEST_DATABASE_URL"] = url
        try:
            yield app
        finally:
            close_app(app)
            processes.stop_all()


def register(client, language: str, source: str, resource_limits: dict | None = None, *, name=None) -> str:
    """POST /functions; returns the new function's id."""
    body = {"name": name or f"fn-{uuid.uuid4().hex[:8]}", "language": language, "source": source}
    if resource_limits:
        body["resourceLimits"] = resource_limits
    resp = client.post("/functions", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def wait_compiled(client, function_ids: list[str], timeout: float = 60.0) -> dict[str, dict]:
    """Wait until none of the functions is PENDING or COMPILING; returns them by id."""

    def settled():
        found = {fid: client.get(f"/functions/{fid}").get_json() for fid in function_ids}
        if all(fn["status"] not in ("PENDING", "COMPILING") for fn in found.values()):
            return found
        return None

    return wait_for(settled, timeout=timeout, interval=0.1)


def ready_function(client, language: str, source: str, resourceLimits: dict | None = None) -> str:  # noqa: N803
    """Register a function, wait until it compiled, assert READY; returns its id."""
    fid = register(client, language, source, resourceLimits)
    fn = wait_compiled(client, [fid])[fid]
    assert fn["status"] == "READY", fn["compileError"]
    return fid


def execute(client, function_id: str, input_value=None) -> dict:
    """POST /functions/{id}/execute, expecting 200; returns the ExecutionResponse."""
    resp = client.post(f"/functions/{function_id}/execute", json={"input": input_value or {}})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def execute_retrying(client, function_id: str, input_value=None, headers=None):
    """POST /functions/{id}/execute, retrying while the tenant is over its share (429)."""
    while True:
        resp = client.post(
            f"/functions/{function_id}/execute", json={"input": input_value or {}}, headers=headers
        )
        if resp.status_code != 429:
            return resp
        time.sleep(0.05)


def expect_error(resp, status: int) -> dict:
    """The response is a JSON error of that status (never HTML)."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type.startswith("application/json"), resp.content_type
    data = resp.get_json()
    assert data["code"] == status and data["message"]
    return data


def assert_healthy(client) -> None:
    """GET /health answers 200 UP."""
    resp = client.get("/health")
    assert resp.status_code == 200 and resp.get_json() == {"status": "UP"}


def register_compiled(client, language: str, sources: dict, *, prefix: str, failures=()) -> dict[str, str]:
    """Register `{name: (source, limits)}` at once and wait for their compiles: name → id.
    The names in `failures` must fail to compile, the others must be READY."""
    ids = {
        name: register(client, language, source, limits, name=f"{prefix}-{name}")
        for name, (source, limits) in sources.items()
    }
    found = wait_compiled(client, list(ids.values()))
    for name, fid in ids.items():
        expected = "FAILED" if name in failures else "READY"
        assert found[fid]["status"] == expected, (name, found[fid]["compileError"])
    return ids


def compile_error(client, function_id: str) -> str:
    """The compile error of a function."""
    return client.get(f"/functions/{function_id}").get_json()["compileError"]


def execution_event_types(conn, execution_ids, tenant_id=None) -> list[tuple[str, int]]:
    """(type, count) of the jsruntime.execution.* events GET /events shows for these executions
    (read from their rows unless a subscriber's row holds them), by type."""
    tenant_id = tenant_id or DEFAULT_TENANT_ID
    wanted = {str(i) for i in execution_ids}
    rows = events_store.recent(
        conn,
        tenant_id,
        event_type=None,
        limit=1000,
        platform=True,
        retention_days=DEFAULT_RETENTION.event_days,
    )
    counts: dict[str, int] = {}
    for row in rows:
        if str(row["source_execution_id"]) in wanted:
            counts[row["type"]] = counts.get(row["type"], 0) + 1
    return sorted(counts.items())


@contextmanager
def execution_events_subscribed(db_url: str, tenant_id=None) -> Iterator[None]:
    """An ACTIVE EVENT function of the tenant listening to jsruntime.execution.*, while inside: the
    statements that change an execution then write its events to `events` (and queue them)."""
    tenant_id = tenant_id or DEFAULT_TENANT_ID
    with psycopg.connect(db_url, autocommit=True) as conn:
        listener = conn.execute(
            "INSERT INTO functions (tenant_id, name, language, source, status, state, trigger_type, "
            "event_types) VALUES (%s, 'listener-' || gen_random_uuid(), 'assemblyscript', 'x', 'PENDING', "
            "'ACTIVE', 'EVENT', ARRAY['jsruntime.execution.*']) RETURNING id",
            (tenant_id,),
        ).fetchone()[0]
    try:
        yield
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("DELETE FROM functions WHERE id = %s", (listener,))
