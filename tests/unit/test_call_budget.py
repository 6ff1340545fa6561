"""A run's reserved share of maxApiCallsPerMinute (hostapi/call_budget.py): pure bookkeeping."""

from datetime import UTC, datetime

from hostapi.call_budget import CallBudget

MINUTE = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
NEXT_MINUTE = datetime(2026, 12, 4, 18, 1, tzinfo=UTC)


def _spend(budget: CallBudget, counter: list[int], window=MINUTE, left_s=30.0) -> int:
    """One call as HostApi makes it, `counter[0]` standing for the row: its made-count (0: held)."""
    if budget.take():
        return 0
    counter[0] += budget.block
    return budget.reserved(counter[0], window, left_s)


def test_a_limit_under_200_is_counted_call_by_call():
    budget, counter = CallBudget(per_minute=199), [0]
    assert [_spend(budget, counter) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert budget.give_back() is None


def test_blocks_double_up_to_one_percent_and_the_unspent_go_back():
    budget, counter = CallBudget(per_minute=1000), [0]  # at most 10 held
    made = [_spend(budget, counter) for _ in range(20)]
    # reservations of 1, 2, 4, 8, 10 calls: 5 round trips for 20 calls
    assert [m for m in made if m] == [1, 2, 4, 8, 16]
    assert counter[0] == 25
    assert budget.give_back() == (MINUTE, 5)
    assert budget.give_back() is None  # once


def test_near_the_limit_a_block_is_granted_in_part_then_the_call_is_refused():
    budget, counter = CallBudget(per_minute=1000), [990]
    made = [_spend(budget, counter) for _ in range(10)]
    # 991 (1 reserved), 992-993 (2), 994-997 (4), then 8 asked with 3 left: granted 3
    assert [m for m in made if m] == [991, 992, 994, 998]
    assert counter[0] == 1005
    assert budget.block == 1  # after a partial grant, one call at a time again
    assert _spend(budget, counter) == 1006  # the 1001st call: refused (over 1000)
    assert budget.give_back() == (MINUTE, 6)  # the 5 not granted and the refused one: 1000 made


def test_calls_held_for_a_minute_that_ended_are_void():
    budget, counter = CallBudget(per_minute=10_000), [0]
    _spend(budget, counter)
    _spend(budget, counter)  # 2 reserved, 1 held
    budget.ends = 0.0  # the minute is over
    assert not budget.take()
    assert budget.give_back() is None  # nothing to give back to a minute that is gone
    new_counter = [0]
    assert _spend(budget, new_counter, window=NEXT_MINUTE) == 1
    assert budget.give_back() == (NEXT_MINUTE, new_counter[0] - 1)
