"""The retry policy of queued executions as a value: defaults, layering, validation messages."""

from __future__ import annotations

import pytest

from infra import retry_policy


def test_layers_override_the_defaults_field_by_field():
    policy = retry_policy.effective({"maxAttempts": 4, "jitter": False}, {"maxAttempts": 2})

    assert policy == {**retry_policy.DEFAULTS, "maxAttempts": 2, "jitter": False}
    assert isinstance(policy["backoffMultiplier"], float)


def test_a_valid_partial_policy_has_no_problems():
    assert retry_policy.problems({}) == []
    assert retry_policy.problems({"maxAttempts": 20, "backoffMultiplier": 1, "retryOn": []}) == []


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ({"maxAttempts": 0}, "maxAttempts"),
        ({"maxAttempts": 21}, "maxAttempts"),
        ({"maxAttempts": 2.5}, "maxAttempts"),
        ({"maxAttempts": True}, "maxAttempts"),
        ({"initialDelayMs": -1}, "initialDelayMs"),
        ({"maxDelayMs": retry_policy.MAX_WAIT_MS + 1}, "maxDelayMs"),
        ({"backoffMultiplier": 0.5}, "backoffMultiplier"),
        ({"backoffMultiplier": "2"}, "backoffMultiplier"),
        ({"jitter": 1}, "jitter"),
        ({"retryLost": "no"}, "retryLost"),
        ({"retryOn": ["CANCELLED"]}, "retryOn"),
        ({"retryOn": "FAILED"}, "retryOn"),
        ({"tries": 3}, "tries"),
    ],
)
def test_each_bad_field_is_named(policy, named):
    problems = retry_policy.problems(policy)

    assert problems and all(p.startswith("retryPolicy.") for p in problems)
    assert any(named in p for p in problems)


def test_a_policy_must_be_an_object():
    assert retry_policy.problems([1]) == ["retryPolicy must be a JSON object"]
