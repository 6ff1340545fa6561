"""GET /metrics on a real gunicorn with two workers and an executor sharing one metrics directory."""

from __future__ import annotations

import uuid

import requests
from pnil_client import Client
from prometheus_client.parser import text_string_to_metric_families


def scrape(server, key: str | None = None) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    headers = {"Authorization": f"Bearer {key or server.admin_key}"}
    response = requests.get(f"{server.url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples, name: str, **labels) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


def test_counters_move_across_workers_and_processes(server):
    client = Client(server.url, server.key)
    name = f"m-{uuid.uuid4().hex[:8]}"
    client.create_function(
        name, "javascript", "function handle(i) { if (i.fail) throw new Error('x'); return i; }"
    )
    client.wait_ready(name)
    before = scrape(server)

    runs = 12  # over keep-alive-less requests, spread over both gunicorn workers
    for i in range(runs):
        requests.post(
            f"{server.url}/functions/{name}/execute",
            json={"input": {"fail": i % 4 == 0}},
            headers={"Authorization": f"Bearer {server.key}"},
            timeout=30,
        )
    client.submit(name, {"n": 1}).result(60)  # run by the executor process
    after = scrape(server)

    def moved(metric: str, **labels) -> float:
        return total(after, metric, **labels) - total(before, metric, **labels)

    assert moved("pnil_executions_total", status="COMPLETED", language="javascript", trigger="API") == 10
    assert moved("pnil_executions_total", status="FAILED", language="javascript") == 3
    assert moved("pnil_execution_duration_seconds_count", language="javascript") == 13
    assert moved("pnil_execution_queue_wait_seconds_count", trigger="API") == 1
    assert (
        moved("pnil_http_request_duration_seconds_count", route="/functions/<fn:function_id>/execute") == 12
    )
    assert total(after, "pnil_compilations_total", language="javascript", outcome="success") >= 1
    assert total(after, "pnil_compile_duration_seconds_count", language="javascript") >= 1
    assert ("pnil_queue_depth", (("queue", "compilation_jobs"),)) in after
    assert ("pnil_queue_dead_letters", (("queue", "executions"),)) in after
    assert ("pnil_runner_restarts_total", ()) in after


def test_metrics_need_an_admin_key(server):
    assert requests.get(f"{server.url}/metrics", timeout=30).status_code == 401
    response = requests.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.key}"}, timeout=30
    )
    assert response.status_code == 403 and response.json()["code"] == 403


def test_every_worker_answers_with_the_same_counts(server):
    """Scrapes on fresh connections land on either gunicorn worker; all must agree."""
    views = [total(scrape(server), "pnil_executions_total") for _ in range(6)]
    assert len(set(views)) == 1


def test_metrics_can_be_made_public(database_url):
    from infra.settings import Settings
    from web.app import create_app

    app = create_app(Settings(database_url=database_url, metrics_public=True, allow_anonymous=False))
    try:
        response = app.test_client().get("/metrics")
        assert response.status_code == 200 and b"pnil_queue_depth" in response.data
        assert app.test_client().get("/functions").status_code == 401  # nothing else opened up
    finally:
        app.extensions["pnil.db"].close()
