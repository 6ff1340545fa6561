"""The rule that tells a transaction-mode pooler from PostgreSQL (or a session-mode pool)."""

from infra.pooler import shows_transaction_pooling


def test_a_session_keeps_its_backend_and_lends_it_to_nobody():
    assert not shows_transaction_pooling(101, 102, 101)


def test_two_connections_served_by_one_backend_is_a_transaction_pooler():
    assert shows_transaction_pooling(101, 101, 101)


def test_one_connection_moving_between_backends_is_a_transaction_pooler():
    assert shows_transaction_pooling(101, 102, 103)
    assert shows_transaction_pooling(101, 102, 102)
