"""A sync execute repeated with its Idempotency-Key while the first still runs: the repeat waits on
the running execution's locks (no poll) and answers that same execution once it ended."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from tests.integration.api_fixtures import api
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import ready_function

LOOP = "function handle(input) { while (true) {} }"

__all__ = ["api"]  # fixture used below


def _waiting_on_a_slot(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return (
            conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()[0]
            > 0
        )


def test_a_repeat_during_the_run_answers_the_first_execution_when_it_ends(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", LOOP, {"maxExecutionTimeMs": 60_000})
    key = {"Idempotency-Key": "repeat-while-running"}

    def call():
        return api.test_client().post(f"/functions/{fid}/execute", json={"input": {}}, headers=key)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(call)
        running = wait_for(
            lambda: client.get(f"/functions/{fid}/executions?status=RUNNING").get_json(), timeout=30
        )
        repeat = pool.submit(call)
        wait_for(lambda: _waiting_on_a_slot(api.config["TEST_DATABASE_URL"]), timeout=30)
        assert not repeat.done()

        assert client.post(f"/executions/{running[0]['id']}/cancel").status_code == 200
        answers = [first.result(timeout=30), repeat.result(timeout=30)]

    assert [a.status_code for a in answers] == [200, 200]
    assert {a.get_json()["id"] for a in answers} == {running[0]["id"]}
    assert [a.get_json()["status"] for a in answers] == ["CANCELLED", "CANCELLED"]
    assert len(client.get(f"/functions/{fid}/executions").get_json()) == 1


def test_a_repeat_with_another_input_is_409(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", "function handle(input) { return input; }")
    key = {"Idempotency-Key": "bound-to-its-request"}

    first = client.post(f"/functions/{fid}/execute", json={"input": {"n": 1}}, headers=key)
    again = client.post(f"/functions/{fid}/execute", json={"input": {"n": 1}}, headers=key)
    other = client.post(f"/functions/{fid}/execute", json={"input": {"n": 2}}, headers=key)

    assert first.status_code == again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert other.status_code == 409 and other.get_json()["status"] == "CONFLICT"
