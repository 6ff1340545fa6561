"""Compile pipeline faults: workers killed mid-message, the admin view of the queues.

Each test has its own database and worker processes.
"""

from __future__ import annotations

import os
import signal
import uuid

import psycopg
from psycopg.types.json import Jsonb

from contracts.compilation import CONTRACT
from contracts.queues import COMPILE_TASK
from tasks.app import broker
from tasks.apply_result import apply_compilation_result
from tests.integration.conftest import wait_for
from tests.integration.pipeline_helpers import (
    DEFAULT_TENANT,
    ECHO,
    TIMEOUT,
    admin_headers,
    admin_queues,
    binary_of,
    log_events,
    queues_idle,
    register,
    send_result,
    settled,
    suffixed,
)


def test_a_result_read_by_a_consumer_that_died_is_reapplied_harmlessly(database_url, db, processes, client):
    # Given a compiled result on the queue and no consumer yet
    processes.worker("compilation_jobs", "compiler")
    function_id = register(client, ECHO, name="crash")
    wait_for(
        lambda: db.execute("SELECT count(*) FROM pgmq.q_compilation_results").fetchone()[0] == 1, TIMEOUT
    )
    # A consumer reads it, applies it, and dies before deleting it (its visibility lapses).
    msg_id, read_ct, message = db.execute(
        "SELECT msg_id, read_ct, message FROM pgmq.read('compilation_results', 1, 1)"
    ).fetchone()
    assert read_ct == 1
    broker.connect(database_url)
    try:
        apply_compilation_result(message, None)
    finally:
        broker.close()
    applied = db.execute("SELECT status, wasm_binary FROM functions WHERE id = %s", (function_id,)).fetchone()
    assert applied[0] == "READY"

    # When a consumer starts, it gets the message again once its visibility lapsed
    processes.worker("compilation_results", "consumer")

    wait_for(lambda: queues_idle(db), TIMEOUT)
    assert (
        db.execute("SELECT status, wasm_binary FROM functions WHERE id = %s", (function_id,)).fetchone()
        == applied
    )
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_results").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_jobs").fetchone()[0] == 0
    assert log_events("consumer", event="compilation.result.applied", functionId=function_id)


def test_a_consumer_killed_mid_message_loses_nothing(database_url, db, processes, client):
    # Given a consumer stuck applying a result (the test holds the function's row lock)
    processes.worker("compilation_jobs", "compiler")
    function_id = register(client, ECHO, name="killed")
    wait_for(
        lambda: db.execute("SELECT count(*) FROM pgmq.q_compilation_results").fetchone()[0] == 1, TIMEOUT
    )
    with psycopg.connect(database_url) as locker:
        locker.execute("SELECT 1 FROM functions WHERE id = %s FOR UPDATE", (function_id,))
        consumer = processes.worker("compilation_results", "consumer")
        wait_for(
            lambda: (
                db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'UPDATE functions SET status%%'"
                ).fetchone()[0]
                == 1
            ),
            TIMEOUT,
        )
        # When it is killed with SIGKILL before it could delete the message
        os.killpg(consumer.pid, signal.SIGKILL)
        consumer.wait(10)
        locker.rollback()
    msg_id, read_ct = db.execute("SELECT msg_id, read_ct FROM pgmq.q_compilation_results").fetchone()
    assert read_ct == 1
    # (its visibility timeout would lapse on its own; the test does not wait 30 s for it)
    db.execute("SELECT pgmq.set_vt('compilation_results', %s, 0)", (msg_id,))

    # Then another consumer applies it, and the function ends READY with its binary
    processes.worker("compilation_results", "consumer")
    data = settled(client, function_id)
    assert data["status"] == "READY"
    assert binary_of(db, function_id).startswith(b"\0asm")
    wait_for(lambda: queues_idle(db), TIMEOUT)
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_results").fetchone()[0] == 0


def test_a_compiler_killed_mid_job_loses_nothing(database_url, db, processes, client):
    # Given a compiler that marked the function COMPILING, compiled it, and is stuck publishing
    # the result (the test holds a lock on the results queue)
    with psycopg.connect(database_url) as locker:
        locker.execute("LOCK TABLE pgmq.q_compilation_results IN EXCLUSIVE MODE")
        compiler = processes.worker("compilation_jobs", "compiler")
        function_id = register(client, ECHO, name="compiler-crash")
        wait_for(
            lambda: (
                db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%%pgmq.send%%'"
                ).fetchone()[0]
                == 1
            ),
            TIMEOUT,
        )
        assert db.execute("SELECT status FROM functions WHERE id = %s", (function_id,)).fetchone() == (
            "COMPILING",
        )
        # When it is killed with SIGKILL
        os.killpg(compiler.pid, signal.SIGKILL)
        compiler.wait(10)
        locker.rollback()
    msg_id, read_ct = db.execute("SELECT msg_id, read_ct FROM pgmq.q_compilation_jobs").fetchone()
    assert read_ct == 1
    db.execute("SELECT pgmq.set_vt('compilation_jobs', %s, 0)", (msg_id,))  # skip the 120 s wait

    # Then the job reappears, a new compiler takes it, and the function ends READY
    processes.compile_pipeline()
    assert settled(client, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(db), TIMEOUT)
    assert db.execute("SELECT count(*) FROM pgmq.a_compilation_jobs").fetchone()[0] == 0


def test_admin_queues_follow_messages_and_dead_letters(db, processes, client):
    # Given no workers: registrations pile up on compilation_jobs
    admin = admin_headers(db)
    empty = admin_queues(client, admin)
    assert set(empty) >= {"compilation_jobs", "compilation_results", "executions", "events"}
    assert empty["compilation_jobs"]["depth"] == 0
    assert empty["compilation_jobs"]["oldestMessageAgeSeconds"] is None
    ids = [register(client, suffixed(f"q{i}"), name=f"q{i}") for i in range(3)]

    waiting = admin_queues(client, admin)["compilation_jobs"]
    assert (waiting["depth"], waiting["inFlight"], waiting["totalSent"]) == (3, 0, 3)
    assert waiting["oldestMessageAgeSeconds"] >= 0
    db.execute("SELECT pgmq.read('compilation_jobs', 1, 1)")  # one in flight, back in 1 s
    taken = admin_queues(client, admin)["compilation_jobs"]
    assert (taken["depth"], taken["inFlight"]) == (2, 1)

    # When the pipeline starts, both queues drain
    processes.compile_pipeline()
    for function_id in ids:
        assert settled(client, function_id)["status"] == "READY"
    wait_for(lambda: queues_idle(db), TIMEOUT)
    drained = admin_queues(client, admin)
    assert drained["compilation_jobs"]["depth"] == drained["compilation_jobs"]["inFlight"] == 0
    assert drained["compilation_results"]["depth"] == 0
    assert drained["compilation_results"]["totalSent"] == 3
    assert drained["compilation_results"]["deadLettered"] == 0

    # A malformed result is dead-lettered
    send_result(db, {"functionId": "not-a-uuid", "success": True})
    wait_for(lambda: admin_queues(client, admin)["compilation_results"]["deadLettered"] == 1, TIMEOUT)

    # A job for a language this compiler does not handle is dead-lettered with a log line
    cobol_id = str(uuid.uuid4())
    job = {
        "functionId": cobol_id,
        "tenantId": DEFAULT_TENANT,
        "contract": CONTRACT,
        "language": "cobol",
        "source": "x",
        "version": 1,
    }
    db.execute("SELECT pgmq.send('compilation_jobs', %s, %s, 0)", (Jsonb(job), Jsonb({"task": COMPILE_TASK})))
    wait_for(lambda: admin_queues(client, admin)["compilation_jobs"]["deadLettered"] == 1, TIMEOUT)
    assert wait_for(lambda: log_events("compiler", event="job.failed", functionId=cobol_id))
    archived = db.execute("SELECT message FROM pgmq.a_compilation_jobs").fetchone()[0]
    assert archived["language"] == "cobol"

    # and the compiler keeps working
    assert all(p.poll() is None for p in processes.procs)
    assert settled(client, register(client, ECHO, name="after"))["status"] == "READY"


HOSTILE_AS = (
    "const p = memory.data(0x7ff00000);\n"
    "export function handle(input: string): string { return p.toString(); }"
)


def test_a_source_that_ties_up_a_compile_slot_does_not_stall_other_compiles(db, processes, client):
    # Given a compiler with two slots and a 10 s compile limit (the hostile source holds a slot that
    # long; the second slot starts when the other job needs it)
    processes.env |= {"PNIL_COMPILE_TIMEOUT_S": "10", "PNIL_COMPILE_SLOTS": "2"}
    processes.worker("compilation_jobs", "compiler", "--concurrency", "2")
    processes.worker("compilation_results", "consumer")
    wait_for(lambda: log_events("compiler", event="worker.started"), TIMEOUT)
    hostile = register(client, HOSTILE_AS)
    wait_for(lambda: client.get(f"/functions/{hostile}").get_json()["status"] == "COMPILING", TIMEOUT)

    # When another function is registered while the hostile one holds a slot
    normal = register(client, suffixed(uuid.uuid4().hex), language="assemblyscript")

    # Then it compiles on the other slot before the hostile one is done
    wait_for(lambda: client.get(f"/functions/{normal}").get_json()["status"] == "READY", TIMEOUT)
    assert client.get(f"/functions/{hostile}").get_json()["status"] == "COMPILING"
    failed = settled(client, hostile)
    assert failed["status"] == "FAILED" and failed["compileError"], failed
