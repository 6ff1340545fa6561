"""The host API's key-value calls against PostgreSQL: how many statements each costs, and that the
one-statement kv.set keeps the call budget, the quotas and the tenants apart (a HostApi on a real
database; the sandbox side is tested in test_host_api.py)."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest

from hostapi.calls import HostApi
from infra.storage_bounds import Quotas
from store import functions, tenants


class CountingCursor(psycopg.Cursor):
    """Counts every statement sent on its connection (`conn.statements`)."""

    def execute(self, query, params=None, **kwargs):
        self.connection.statements += 1
        return super().execute(query, params, **kwargs)


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True, cursor_factory=CountingCursor) as conn:
        conn.statements = 0
        yield conn


def _api(conn, slug: str = "stmts", per_minute: int = 1000, quotas: Quotas | None = None) -> HostApi:
    tenant_id = tenants.ensure_tenant(conn, slug)
    fn = functions.insert(
        conn,
        tenant_id,
        {
            "name": f"f-{uuid.uuid4().hex[:8]}",
            "language": "javascript",
            "source": "function handle() {}",
            "resource_limits": {"maxApiCallsPerMinute": per_minute},
        },
        actor="test",
        change_description=None,
    )
    return HostApi(conn, fn, str(uuid.uuid4()), time.monotonic() + 60, quotas=quotas or Quotas())


def _call(api: HostApi, op: str, **args) -> dict:
    api.conn.statements = 0
    return json.loads(api.handle(json.dumps({"op": op, "args": args}).encode()))


def _window_calls(conn, api: HostApi) -> int:
    return conn.execute(
        "SELECT COALESCE(sum(calls), 0) FROM api_call_windows WHERE function_id = %s", (api.function_id,)
    ).fetchone()[0]


def test_kv_set_and_get_are_one_statement_each(conn):
    api = _api(conn)
    assert _call(api, "kv.set", key="k", value={"n": 1}) == {"ok": None}
    assert conn.statements == 1  # count + quota check + upsert: was three round trips
    assert _call(api, "kv.set", key="k", value={"n": 2}, ttl=60) == {"ok": None}
    assert conn.statements == 1
    assert _call(api, "kv.get", key="k") == {"ok": {"n": 2}}
    assert conn.statements == 1
    assert (api.calls, api.queries) == (3, 3)
    assert _window_calls(conn, api) == 3
    expires = conn.execute("SELECT expires_at > now() FROM kv_entries WHERE key = 'k'").fetchone()[0]
    assert expires is True


def test_kv_set_over_the_budget_is_refused_and_writes_nothing(conn):
    api = _api(conn, per_minute=2)
    assert _call(api, "kv.set", key="a", value=1) == {"ok": None}
    assert _call(api, "kv.set", key="b", value=2) == {"ok": None}
    refused = _call(api, "kv.set", key="c", value=3)
    assert "maxApiCallsPerMinute (2) reached" in refused["error"]
    assert conn.statements == 1
    assert _call(api, "kv.set", key="c", value=4)["error"] == refused["error"]
    assert conn.statements == 0  # known to be over budget: no round trip
    keys = conn.execute("SELECT key FROM kv_entries ORDER BY key").fetchall()
    assert keys == [("a",), ("b",)]
    assert _window_calls(conn, api) == 3 and api.calls == 4 and api.queries == 2


def test_kv_set_past_a_quota_is_refused_with_its_message_and_still_counted(conn):
    api = _api(conn, quotas=Quotas(kv_keys=1, kv_bytes=40))
    assert _call(api, "kv.set", key="one", value="x") == {"ok": None}
    refused = _call(api, "kv.set", key="two", value="y")
    assert refused["error"].startswith("your key-value store holds 1 keys, its quota (maxKvKeys 1)")
    assert conn.statements == 1
    assert _call(api, "kv.set", key="one", value="replaced") == {"ok": None}  # a replaced key fits
    too_big = _call(api, "kv.set", key="one", value="z" * 40)
    assert too_big["error"].startswith("storing 45 bytes would take your key-value store past its quota")
    tenants.set_bounds(conn, "stmts", {"max_kv_keys": 2})  # the tenant's own quota wins
    assert _call(api, "kv.set", key="two", value="y") == {"ok": None}
    rows = conn.execute("SELECT key, value FROM kv_entries ORDER BY key").fetchall()
    assert rows == [("one", "replaced"), ("two", "y")]
    api.release()  # the run's end: of the 7 calls its blocks reserved, the 2 not made go back
    assert _window_calls(conn, api) == 5 and api.queries == 3


def test_an_invalid_kv_set_is_counted_and_refused_without_a_write(conn):
    api = _api(conn, per_minute=1)
    assert "ttl must be a number" in _call(api, "kv.set", key="k", value=1, ttl=-1)["error"]
    assert _window_calls(conn, api) == 1
    # the budget is spent now: the budget refusal wins over the argument's
    assert "maxApiCallsPerMinute (1)" in _call(api, "kv.set", key="", value=1)["error"]
    assert conn.execute("SELECT count(*) FROM kv_entries").fetchone()[0] == 0


def test_kv_set_stays_within_its_tenant(conn):
    mine, theirs = _api(conn, "tenant-a"), _api(conn, "tenant-b")
    assert _call(mine, "kv.set", key="shared", value="a") == {"ok": None}
    assert _call(theirs, "kv.set", key="shared", value="b") == {"ok": None}
    assert _call(mine, "kv.get", key="shared") == {"ok": "a"}
    assert _call(theirs, "kv.get", key="shared") == {"ok": "b"}
    usage = dict(conn.execute("SELECT t.slug, u.keys FROM kv_usage u JOIN tenants t ON t.id = u.tenant_id"))
    assert usage == {"tenant-a": 1, "tenant-b": 1}


@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        -7,
        2**60,
        0.1,
        1.5e300,
        'zoë \u2028 "quoted" \\ \n',
        [],
        {},
        {"b": [1, {"c": None}], "a": True},
    ],
)
def test_kv_get_answers_the_stored_value_as_json_text(conn, value):
    api = _api(conn)
    assert _call(api, "kv.set", key="v", value=value) == {"ok": None}
    raw = api.handle(json.dumps({"op": "kv.get", "args": {"key": "v"}}).encode())
    assert b"\n" not in raw  # the JavaScript guest reads the answer as one line
    # numbers as the guest's JSON.parse reads them, doubles (PostgreSQL prints 1.5e300 in full)
    assert json.loads(raw, parse_int=float) == {"ok": value}
    assert _call(api, "kv.get", key="absent") == {"ok": None}


def test_a_run_reserves_its_calls_in_blocks_and_gives_back_the_unspent(conn):
    api = _api(conn, per_minute=10_000)  # blocks of up to 100 calls
    assert _call(api, "kv.set", key="k", value=1) == {"ok": None}
    for _ in range(49):
        assert _call(api, "kv.get", key="k") == {"ok": 1}
        assert conn.statements == 1  # a read alone, or the read and a reservation: one round trip
    # reservations of 1, 2, 4, 8, 16 and 32 calls: 63 counted for the 50 made
    assert _window_calls(conn, api) == 63 and (api.calls, api.queries) == (50, 50)
    api.release()
    assert _window_calls(conn, api) == 50
    api.release()  # once
    assert _window_calls(conn, api) == 50


def test_two_runs_share_the_minute_exactly_at_the_limit(conn):
    first = _api(conn, per_minute=250)  # blocks of up to 2 calls
    fn = {
        "id": first.function_id,
        "tenant_id": first.tenant_id,
        "resource_limits": {"maxApiCallsPerMinute": 250},
    }
    second = HostApi(conn, fn, str(uuid.uuid4()), time.monotonic() + 60, quotas=Quotas())  # another run
    conn.execute(
        "INSERT INTO api_call_windows (function_id, window_start, calls) "
        "VALUES (%s, date_trunc('minute', now()), 246)",
        (first.function_id,),
    )
    assert _call(first, "kv.get", key="k") == {"ok": None}  # 247
    assert _call(first, "kv.get", key="k") == {"ok": None}  # 248, and 249 held
    assert _call(second, "kv.get", key="k") == {"ok": None}  # 250: the budget's last
    assert _call(first, "kv.get", key="k") == {"ok": None}  # the held 249th
    for api in (first, second):
        assert "maxApiCallsPerMinute (250) reached" in _call(api, "kv.get", key="k")["error"]
    first.release()
    second.release()
    assert _window_calls(conn, first) == 250  # the refused reservations given back
