"""Helpers shared by the workflow API tests: functions, submitting a run, waiting for its end."""

from __future__ import annotations

from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import register_compiled

FUNCTIONS = {
    "inc": ("function handle(input) { return {n: (input.n || 0) + 1}; }", None),
    "double": ("function handle(input) { return {n: input.n * 2}; }", None),
    "sum": ("function handle(input) { return {n: input.reduce((a, x) => a + x.n, 0)}; }", None),
    "fail": ("function handle(input) { throw new Error('step broke on purpose'); }", None),
    "ctx": ("function handle(input, context) { return context.trigger; }", None),
    "record": ("function handle(input) { return {seen: input}; }", None),
    "slow": (
        "function handle(input) { if (input.flag) pnil.kv.set(input.flag, 1);"
        " const end = Date.now() + (input.ms || 300);"
        " while (Date.now() < end) {} return {n: input.n}; }",
        {"maxExecutionTimeMs": 20_000},
    ),
    # Fails once the KV key `input.flag` is set (by a running `slow`), or after 10 s.
    "fail-after-flag": (
        "function handle(input) { const end = Date.now() + 10000;"
        " while (Date.now() < end && pnil.kv.get(input.flag) === null) {"
        " const pause = Date.now() + 50; while (Date.now() < pause) {} }"
        " throw new Error('step broke on purpose'); }",
        {"maxExecutionTimeMs": 20_000, "maxApiCallsPerMinute": 1000},
    ),
}
FINAL = ("COMPLETED", "FAILED", "CANCELLED")


def register_functions(client, prefix: str, extra: dict | None = None) -> dict[str, str]:
    """Register the test functions (names `{prefix}-{key}`); returns key → name."""
    sources = {**FUNCTIONS, **(extra or {})}
    register_compiled(client, "javascript", sources, prefix=prefix)
    return {key: f"{prefix}-{key}" for key in sources}


def fn(name: str, **extra) -> dict:
    return {"function": name, **extra}


def run(client, steps, input_value=None, *, on_failure=None) -> dict:
    """POST /workflows/runs, expecting 202 with Location; returns the run."""
    body = {"input": input_value or {}, "steps": steps}
    if on_failure is not None:
        body["onFailure"] = on_failure
    resp = client.post("/workflows/runs", json=body)
    assert resp.status_code == 202, resp.get_json()
    run_json = resp.get_json()
    assert resp.headers["Location"] == f"/workflows/runs/{run_json['id']}"
    return run_json


def get_run(client, run_id: str) -> dict:
    resp = client.get(f"/workflows/runs/{run_id}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def wait_run(client, run_id: str, statuses=FINAL, timeout: float = 60.0) -> dict:
    """Poll the run until its status is one of `statuses`."""

    def done():
        found = get_run(client, run_id)
        return found if found["status"] in statuses else None

    return wait_for(done, timeout=timeout, interval=0.05)


def leaves(node: dict) -> list[dict]:
    """The steps (function nodes) of a tree, in order."""
    if node["kind"] == "function":
        return [node]
    if node["kind"] == "chord":
        return leaves(node["group"]) + leaves(node["then"])
    return [leaf for child in node["steps"] for leaf in leaves(child)]


def step_executions(db, run_id: str) -> dict[str, int]:
    """How many executions each step path of the run has (attempts included)."""
    rows = db.execute(
        "SELECT step_path, count(*) FROM executions WHERE workflow_run_id = %s GROUP BY step_path", (run_id,)
    ).fetchall()
    return dict(rows)
