"""RetryPolicy: exponential backoff as a value."""

import pytest

from broker import RetryPolicy


def test_backoff_grows_exponentially_and_is_capped():
    policy = RetryPolicy(max_retries=10, base_delay_s=1, factor=2, max_delay_s=5)
    assert [policy.delay_for(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


def test_exhausted_after_max_retries():
    policy = RetryPolicy(max_retries=2)
    assert not policy.exhausted(1) and not policy.exhausted(2) and policy.exhausted(3)


def test_zero_backoff_for_tests():
    assert RetryPolicy(base_delay_s=0).delay_for(7) == 0


@pytest.mark.parametrize("kwargs", [{"max_retries": -1}, {"factor": 0.5}, {"base_delay_s": -1}])
def test_invalid_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
