"""One tenant's flood of slow executions leaves another tenant's calls running at once."""

from __future__ import annotations

import threading
import time

import psycopg

from store import tenants
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import running_api

LOOP = "function handle(i) { while (true) {} }"
FAST = "function handle(i) { return i; }"


def _ready(client, headers, name, source, limits=None):
    body = {"name": name, "language": "javascript", "source": source, "resourceLimits": limits or {}}
    assert client.post("/functions", json=body, headers=headers).status_code == 201
    wait_for(lambda: client.get(f"/functions/{name}", headers=headers).get_json()["status"] == "READY", 60)


def test_a_flood_of_slow_executions_never_blocks_another_tenant(server_url, template_url):
    with running_api(server_url, runner_pool_size=2) as app:
        with psycopg.connect(app.config["TEST_DATABASE_URL"], autocommit=True) as conn:
            a = {"Authorization": f"Bearer {tenants.create_key(conn, 'flooder', name='a')[1]}"}
            b = {"Authorization": f"Bearer {tenants.create_key(conn, 'neighbour', name='b')[1]}"}
        client = app.test_client()
        _ready(client, a, "loop", LOOP, {"maxExecutionTimeMs": 1000, "maxConcurrentRuns": 50})
        _ready(client, b, "fast", FAST)
        stop = threading.Event()
        flood: list[int] = []

        def flooder() -> None:
            own = app.test_client()
            while not stop.is_set():
                flood.append(own.post("/functions/loop/execute", json={"input": {}}, headers=a).status_code)

        threads = [threading.Thread(target=flooder) for _ in range(12)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        try:
            answers = [
                client.post("/functions/fast/execute", json={"input": {"n": n}}, headers=b) for n in range(20)
            ]
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)

        assert [r.status_code for r in answers] == [200] * 20
        assert all(r.get_json()["status"] == "COMPLETED" for r in answers)
        assert 200 in flood and 429 in flood  # the flooder ran, and was told to retry past its share
