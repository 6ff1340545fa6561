"""broker/batching.py: a queue's reads sized by the time its messages take."""

from __future__ import annotations

from broker.batching import BatchSizer


def test_without_a_time_target_a_read_takes_the_declared_batch():
    sizer = BatchSizer(most=8, batch_s=None)
    sizer.record(10.0, 1)

    assert sizer.size() == 8


def test_a_first_read_takes_one_message_until_one_was_measured():
    sizer = BatchSizer(most=64, batch_s=0.1)

    assert sizer.size() == 1
    sizer.record(0.004, 1)
    assert sizer.size() == 25  # 100 ms of 4 ms messages


def test_long_messages_are_read_one_at_a_time_and_short_ones_up_to_the_most():
    long, short = BatchSizer(most=64, batch_s=0.1), BatchSizer(most=64, batch_s=0.1)
    long.record(0.040 * 8, 8)
    short.record(0.0001 * 8, 8)

    assert (long.size(), short.size()) == (2, 64)
    long.record(1.0, 1)
    assert long.size() == 1


def test_the_average_follows_the_messages_handled_lately():
    sizer = BatchSizer(most=64, batch_s=0.1)
    sizer.record(0.050 * 10, 10)  # 2 a read
    for _ in range(20):
        sizer.record(0.002 * 10, 10)  # then 200 messages of 2 ms

    assert sizer.size() >= 45


def test_nothing_handled_changes_nothing():
    sizer = BatchSizer(most=64, batch_s=0.1)
    sizer.record(0.5, 0)

    assert sizer.size() == 1
