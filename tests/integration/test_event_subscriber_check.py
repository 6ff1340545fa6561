"""Whether an event has a subscriber is asked on every execution (twice): it must read the
tenant's ACTIVE EVENT functions only, not every function of the tenant (migration 0030)."""

from __future__ import annotations

import json

from psycopg.types.json import Jsonb

from events import publish as events_publish

PARAMS = {
    "type": "jsruntime.execution.started",
    "payload": Jsonb({}),
    "depth": 0,
    "source": None,
    "durable": False,
}


def _tenant(db, slug: str):
    return db.execute("INSERT INTO tenants (slug) VALUES (%s) RETURNING id", (slug,)).fetchone()[0]


def _functions(db, tenant, n: int, *, trigger: str = "ONEOFF", patterns: list[str] | None = None, prefix="f"):
    db.execute(
        "INSERT INTO functions (tenant_id, name, language, source, status, state, trigger_type, event_types) "
        "SELECT %s, %s || g, 'assemblyscript', 'x', 'PENDING', 'ACTIVE', %s, %s "
        "FROM generate_series(1, %s) g",
        (tenant, prefix, trigger, patterns or [], n),
    )


def _function_nodes(plan: dict):
    if plan.get("Relation Name") == "functions":
        yield plan
    for child in plan.get("Plans", ()):
        yield from _function_nodes(child)


def _publish_plan(db, tenant) -> list[dict]:
    with db.transaction():
        db.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        (plan,) = db.execute(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {events_publish._PUBLISH}", PARAMS | {"tenant": tenant}
        ).fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)[0]
    return list(_function_nodes(plan["Plan"]))


def test_the_check_reads_no_function_that_cannot_subscribe(db):
    busy = _tenant(db, "many-functions")
    _functions(db, busy, 400)
    other = _tenant(db, "listens")
    _functions(db, other, 1, trigger="EVENT", patterns=["*"], prefix="listener")
    db.execute("ANALYZE functions")

    nodes = _publish_plan(db, busy)
    assert nodes, "the check no longer reads functions: update this test"
    for node in nodes:
        read = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        assert read == 0, f"the check read {read} functions of a tenant without subscribers: {node}"


def test_the_check_still_finds_an_active_subscriber(db):
    tenant = _tenant(db, "has-one")
    _functions(db, tenant, 50)
    _functions(db, tenant, 1, trigger="EVENT", patterns=["jsruntime.execution.*"], prefix="listener")
    sent = db.execute(events_publish._PUBLISH, PARAMS | {"tenant": tenant}).fetchone()[2]
    assert sent == 1
    db.execute("UPDATE functions SET state = 'PAUSED' WHERE tenant_id = %s AND name = 'listener1'", [tenant])
    assert db.execute(events_publish._PUBLISH, PARAMS | {"tenant": tenant}).fetchone()[2] == 0
