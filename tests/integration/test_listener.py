"""One LISTEN connection per process: every channel's notifications reach that channel's handler,
and every subscriber hears when the connection is lost and when its LISTEN starts again."""

from __future__ import annotations

import psycopg

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
