"""Shared helpers of the compile pipeline tests (the happy path and faults)."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

from psycopg.types.json import Jsonb

from contracts.queues import APPLY_RESULT_TASK
from store import tenants
from tests.integration.conftest import wait_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ECHO = (FIXTURES / "assemblyscript" / "echo.ts").read_text()
TYPE_ERROR = 'export function handle(input: string): string {\n  let n: i32 = "text";\n  return input;\n}\n'
JS_ADD = (FIXTURES / "javascript" / "add.js").read_text()
JS_SYNTAX_ERROR = "function handle(input) {\n  return input +* 2;\n}\n"
DEFAULT_TENANT = "00000000-0000-0000-0000-000000000001"
LINE_COL = re.compile(r"\d+:\d+|\(\d+,\d+\)|line \d+, column \d+")
TIMEOUT = 60


def suffixed(suffix: str) -> str:
    return f'export function handle(input: string): string {{ return input + "{suffix}"; }}'


def register(client, source: str, language: str = "assemblyscript", name: str | None = None) -> str:
    name = name or f"f-{uuid.uuid4().hex[:8]}"
    resp = client.post("/functions", json={"name": name, "language": language, "source": source})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def settled(client, function_id: str, timeout: float = TIMEOUT) -> dict:
    """The function once it is READY or FAILED."""

    def done():
        data = client.get(f"/functions/{function_id}").get_json()
        return data if data["status"] in ("READY", "FAILED") else None

    return wait_for(done, timeout)


def binary_of(db, function_id: str) -> bytes | None:
    row = db.execute("SELECT wasm_binary FROM functions WHERE id = %s", (function_id,)).fetchone()
    return None if row[0] is None else bytes(row[0])


def queues_idle(db) -> bool:
    """Nothing waiting or in flight on the compile queues."""
    counts = db.execute(
        "SELECT (SELECT count(*) FROM pgmq.q_compilation_jobs) "
        "+ (SELECT count(*) FROM pgmq.q_compilation_results)"
    ).fetchone()[0]
    return counts == 0


def log_events(name: str, **match) -> list[dict]:
    """The JSON log lines a worker of this test session wrote that match the given fields."""
    path = Path(f"/tmp/pnil-test-{name}-{os.getpid()}.log")
    events = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if all(record.get(k) == v for k, v in match.items()):
            events.append(record)
    return events


def send_result(db, result: dict) -> int:
    return db.execute(
        "SELECT pgmq.send('compilation_results', %s, %s, 0)",
        (Jsonb(result), Jsonb({"task": APPLY_RESULT_TASK})),
    ).fetchone()[0]


def admin_headers(db) -> dict[str, str]:
    """Authorization headers of a new admin key (anonymous access is never admin)."""
    key = tenants.create_key(db, "ops", name="test admin", admin=True)[1]
    return {"Authorization": f"Bearer {key}"}


def admin_queues(client, headers: dict[str, str]) -> dict[str, dict]:
    resp = client.get("/admin/queues", headers=headers)
    assert resp.status_code == 200
    return {q["queue"]: q for q in resp.get_json()}
