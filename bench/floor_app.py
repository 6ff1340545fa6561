"""The least a sync execute can do on pnil's stack, as a WSGI app for `bench execute_floor`.

Same server (gunicorn gthread, the `web` settings of bench execute), same Flask, same psycopg pool
with generic plans, same sandbox (RunnerPool, one per worker, one run at a time): parse the body,
INSERT the run RUNNING (without waiting for its flush, as pnil does), run the function, UPDATE
it COMPLETED (one synchronous commit), answer JSON. No key, audit, metrics, logs, slots, events
or fairness: what is left is the cost of the parts pnil is made of.
Run only by bench/execute_floor.py (it creates the table and sets FLOOR_WASM).
"""

from __future__ import annotations

import json
import os
import threading

from flask import Flask, jsonify, request
from psycopg.types.json import Jsonb

from contracts.statuses import ExecutionStatus
from infra.database import GENERIC_PLANS, ForkSafePool
from runner.contract import Language, RunRequest
from runner.sandbox.pool import RunnerPool

TABLE = "bench_floor_runs"
app = Flask("floor")
_db = ForkSafePool(os.environ.get("DATABASE_URL", ""), max_size=3, name="floor", session=GENERIC_PLANS)
_runner: dict[str, object] = {}
_lock = threading.Lock()


def _sandbox() -> tuple[RunnerPool, threading.Semaphore, bytes]:
    with _lock:  # built after gunicorn forked, once per worker
        if not _runner:
            with open(os.environ["FLOOR_WASM"], "rb") as wasm:
                _runner.update(pool=RunnerPool(1), turn=threading.Semaphore(1), artifact=wasm.read())
    return _runner["pool"], _runner["turn"], _runner["artifact"]


@app.get("/health")
def health():
    return jsonify({"status": "ok"})


@app.post("/execute")
def execute():
    input_value = request.get_json()["input"]
    pool, turn, artifact = _sandbox()
    with turn, _db.connection() as conn:
        run_id = conn.execute(
            f"INSERT INTO {TABLE} (input, status) SELECT %s, '{ExecutionStatus.RUNNING}' "
            "WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL RETURNING id",
            (Jsonb(input_value),),
        ).fetchone()[0]
        result = pool.run(
            RunRequest(
                language=Language.ASSEMBLYSCRIPT, artifact=artifact, input_json=json.dumps(input_value)
            )
        )
        row = conn.execute(
            f"UPDATE {TABLE} SET status = '{ExecutionStatus.COMPLETED}', output = %s::jsonb WHERE id = %s "
            "RETURNING id, status, output",
            (result.output_json, run_id),
        ).fetchone()
    return jsonify({"id": row[0], "status": row[1], "output": row[2]})
