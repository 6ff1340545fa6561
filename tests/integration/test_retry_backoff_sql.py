"""The backoff formula, written once in SQL (infra/retry_policy.py), evaluated by PostgreSQL."""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from infra import retry_policy


def delay(db, policy: dict, attempt: int) -> float:
    sql = f"SELECT {retry_policy.delay_ms_sql('%(p)s::jsonb', '%(a)s')}"
    return db.execute(sql, {"p": Jsonb(retry_policy.effective(policy)), "a": attempt}).fetchone()[0]


def test_without_jitter_it_grows_by_the_multiplier_up_to_the_cap(db):
    policy = {"initialDelayMs": 100, "backoffMultiplier": 3, "maxDelayMs": 2000, "jitter": False}

    assert [delay(db, policy, n) for n in (1, 2, 3, 4, 5)] == [100, 300, 900, 2000, 2000]


def test_full_jitter_stays_between_zero_and_the_backoff(db):
    samples = [delay(db, {"initialDelayMs": 1000}, 1) for _ in range(50)]

    assert all(0 <= s < 1000 for s in samples) and len(set(samples)) > 1


@pytest.mark.parametrize("status", ["FAILED", "TIMEOUT"])
def test_retry_on_names_the_statuses_retried(db, status):
    sql = f"SELECT {retry_policy.retries_on_sql('%(p)s::jsonb', '%(s)s')}"
    only_timeouts = Jsonb(retry_policy.effective({"retryOn": ["TIMEOUT"]}))

    assert db.execute(sql, {"p": only_timeouts, "s": status}).fetchone()[0] is (status == "TIMEOUT")
