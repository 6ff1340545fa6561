"""One LISTEN connection per process: every channel's notifications reach that channel's handler,
and every subscriber hears when the connection is lost and when its LISTEN starts again."""

from __future__ import annotations

import threading

import psycopg
import pytest

from infra import listener as listener_module
from infra.listener import Listener
from tests.integration.conftest import wait_for


def notify(url: str, channel: str, payload: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


def test_two_channels_share_one_connection_and_each_handler_gets_its_own(database_url):
    listener = Listener(database_url)
    got: dict[str, list[str]] = {"a": [], "b": []}
    try:
        a = listener.subscribe("chan_a", got["a"].append)
        b = listener.subscribe("chan_b", got["b"].append)
        wait_for(lambda: a.listening.is_set() and b.listening.is_set())

        notify(database_url, "chan_a", "1")
        notify(database_url, "chan_b", "2")
        notify(database_url, "chan_other", "3")
        wait_for(lambda: got["a"] and got["b"])

        assert got == {"a": ["1"], "b": ["2"]}
        with listener.borrow() as conn:  # a statement from another thread runs on the same session
            assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] == listener.backend_pid
    finally:
        listener.close()


def test_every_subscriber_hears_the_loss_and_the_new_listen(database_url):
    listener = Listener(database_url)
    events: list[str] = []
    try:
        for name in ("a", "b"):
            listener.subscribe(
                f"chan_{name}",
                events.append,
                on_listening=lambda n=name: events.append(f"{n} listening"),
                on_lost=lambda n=name: events.append(f"{n} lost"),
            )
        wait_for(lambda: events.count("a listening") + events.count("b listening") == 2)
        lost = listener.backend_pid
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (lost,))

        wait_for(lambda: events.count("a listening") + events.count("b listening") == 4, timeout=20)
        notify(database_url, "chan_b", "after")
        wait_for(lambda: "after" in events)

        assert {"a lost", "b lost"} <= set(events) and listener.backend_pid != lost
    finally:
        listener.close()


def test_a_closed_subscription_hears_nothing_more(database_url):
    listener = Listener(database_url)
    got: list[str] = []
    try:
        sub = listener.subscribe("chan_a", got.append)
        other = listener.subscribe("chan_b", got.append)
        wait_for(lambda: sub.listening.is_set() and other.listening.is_set())
        sub.close()
        notify(database_url, "chan_a", "ignored")
        notify(database_url, "chan_b", "heard")
        wait_for(lambda: "heard" in got)

        assert got == ["heard"] and not sub.listening.is_set()
    finally:
        listener.close()


@pytest.fixture
def long_wait(database_url, monkeypatch):
    """A listener whose thread waits 30 s at a time, and a list its `chan_a` subscriber fills."""
    monkeypatch.setattr(listener_module, "WAIT_S", 30.0)
    listener = Listener(database_url)
    got: list[str] = []
    try:
        sub = listener.subscribe("chan_a", got.append)
        wait_for(lambda: sub.listening.is_set(), timeout=10)
        yield listener, got
    finally:
        listener.close()


def test_nothing_waits_for_the_threads_wait(database_url, long_wait):
    """The thread waits on the socket, not inside psycopg: with a 30 s wait, a borrower's statement
    (/health), a notification, a new subscriber and a close are each served at once. Before, a
    borrower waited for the thread's wait to end (up to WAIT_S: /health took ~450 ms)."""
    listener, got = long_wait
    answered: list[int] = []

    def health_check() -> None:
        with listener.borrow() as conn:
            answered.append(conn.execute("SELECT 1").fetchone()[0])

    checker = threading.Thread(target=health_check)
    checker.start()
    checker.join(timeout=10)
    assert answered == [1]

    notify(database_url, "chan_a", "heard")
    wait_for(lambda: got == ["heard"], timeout=10)

    second = listener.subscribe("chan_b", got.append)
    wait_for(lambda: second.listening.is_set(), timeout=10)

    listener.close()
    listener._thread.join(timeout=10)  # noqa: SLF001 - the test checks the thread ends
    assert not listener._thread.is_alive()  # noqa: SLF001


def test_a_notification_read_by_a_borrowers_statement_still_reaches_its_subscriber(long_wait):
    """A borrower's statement may read a notification off the socket (psycopg keeps it for the
    next notifies()): the thread hands it over without waiting for another one to arrive."""
    listener, got = long_wait
    with listener.borrow() as conn:
        # Sent on this very session: the notification arrives with the statement's answer.
        conn.execute("SELECT pg_notify('chan_a', 'inside')")
    wait_for(lambda: got == ["inside"], timeout=10)
