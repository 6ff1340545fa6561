"""A sync execution holds its process's sandbox ticket (executions/fairness.py) from before its
start is recorded until the run returns, not while its end commits: the synchronous commit of one
execution overlaps the next one's run."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from executions.fairness import SandboxAdmission
from store import sync_end
from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import execution_service, ready_function

__all__ = ["api"]  # fixture used below


@pytest.fixture
def admission():
    return SandboxAdmission(1, wait_s=1.0, max_waiting=4)


@pytest.fixture
def service(api, admission):
    with execution_service(api.config["TEST_DATABASE_URL"], admission=admission) as svc:
        yield svc


def tenant_of(api, function_id: str) -> uuid.UUID:
    with psycopg.connect(api.config["TEST_DATABASE_URL"]) as conn:
        return conn.execute("SELECT tenant_id FROM functions WHERE id = %s", (function_id,)).fetchone()[0]


def tickets_in_use(admission: SandboxAdmission) -> int:
    return sum(admission._running.values())


def test_the_ticket_is_back_before_the_end_is_recorded(api, admission, service, monkeypatch):
    client = api.test_client()
    fid = ready_function(client, "javascript", "function handle(input) { return input; }")
    tenant = tenant_of(api, fid)
    seen = {}
    run, finish = service.runners.run, sync_end.finish_sync

    def run_spy(*args, **kwargs):
        seen["during run"] = tickets_in_use(admission)
        return run(*args, **kwargs)

    def finish_spy(*args, **kwargs):
        seen["at the end"] = tickets_in_use(admission)
        return finish(*args, **kwargs)

    monkeypatch.setattr(service.runners, "run", run_spy)
    monkeypatch.setattr(sync_end, "finish_sync", finish_spy)
    row = service.execute(tenant, uuid.UUID(fid), {"n": 1})

    assert row["status"] == "COMPLETED" and row["output"] == {"n": 1}
    assert seen == {"during run": 1, "at the end": 0}
    assert tickets_in_use(admission) == 0


def test_a_failing_start_gives_the_ticket_back(api, admission, service):
    client = api.test_client()
    fid = ready_function(client, "javascript", "function handle(input) { return input; }")
    tenant = tenant_of(api, fid)
    with pytest.raises(LookupError):
        service.execute(tenant, uuid.uuid4(), {})
    row = service.execute(tenant, uuid.UUID(fid), {"again": True})
    assert row["status"] == "COMPLETED"
    assert tickets_in_use(admission) == 0
