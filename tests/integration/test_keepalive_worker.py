"""The web's gunicorn worker (web/gunicorn_worker.py) keeps a busy keep-alive connection on its
thread for a moment: every way a client uses a connection must still be answered, in order."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from bench.stack import Stack
from tests.conftest import throwaway_database
from web.gunicorn_worker import LINGER_S


@pytest.fixture(scope="module")
def address(server_url, template_url):
    with throwaway_database(server_url) as database_url, Stack(("web",), database_url=database_url) as stack:
        parts = urlsplit(stack.base_url)
        yield parts.hostname, parts.port


# No route: a JSON 404 that asks nothing of the database, so the tests exercise the connection handling alone.
PATH = "/no-such-route"


def _get(conn: http.client.HTTPConnection, path: str = PATH) -> tuple[int, dict]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_back_to_back_requests_on_one_connection_are_all_answered(address):
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        answers = [_get(conn) for _ in range(50)]
    finally:
        conn.close()
    assert [status for status, _ in answers] == [404] * 50


def test_a_request_after_the_linger_is_answered_on_the_same_connection(address):
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        assert _get(conn)[0] == 404
        local = conn.sock.getsockname()
        time.sleep(LINGER_S * 25)  # the connection went back to the worker's poller
        assert _get(conn)[0] == 404
        assert conn.sock.getsockname() == local  # not a new connection
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(address):
    host, port = address
    request = f"GET /openapi.json HTTP/1.1\r\nHost: {host}\r\n\r\nGET {PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n"
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        deadline = time.monotonic() + 10
        while received.count(b"HTTP/1.1 ") < 2 or not received.rstrip().endswith(b"}"):
            assert time.monotonic() < deadline, received
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    first, second = received.index(b"HTTP/1.1 200"), received.index(b"HTTP/1.1 404")
    assert first < second


def test_clients_that_hang_up_leave_the_worker_serving(address):
    for _ in range(40):  # more than the worker has threads
        conn = http.client.HTTPConnection(*address, timeout=10)
        assert _get(conn)[0] == 404
        conn.close()
    with socket.create_connection(address, timeout=10) as sock:  # and one that says nothing
        conn = http.client.HTTPConnection(*address, timeout=10)
        try:
            assert _get(conn)[0] == 404
        finally:
            conn.close()
        sock.close()


@pytest.fixture(scope="module")
def two_threads(server_url, template_url):
    env = {"WEB_CONCURRENCY": "1", "PNIL_WEB_THREADS": "2"}
    with (
        throwaway_database(server_url) as database_url,
        Stack(("web",), database_url=database_url, extra_env=env) as stack,
    ):
        parts = urlsplit(stack.base_url)
        yield parts.hostname, parts.port


def test_busy_connections_never_hold_every_thread_while_another_waits(two_threads):
    # given more connections sending back to back than the worker has threads
    stop = threading.Event()
    served = []

    def busy():
        conn = http.client.HTTPConnection(*two_threads, timeout=30)
        try:
            while not stop.is_set():
                served.append(_get(conn)[0])
        finally:
            conn.close()

    clients = [threading.Thread(target=busy) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        while len(served) < 200:  # they are all going
            time.sleep(0.01)
        # when one more connection asks, it is answered while they go on
        late = http.client.HTTPConnection(*two_threads, timeout=30)
        try:
            before = len(served)
            status, _ = _get(late)
            meanwhile = len(served) - before  # the busy connections' answers while it waited
        finally:
            late.close()
        answered_while_busy = not stop.is_set() and all(client.is_alive() for client in clients)
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert status == 404 and answered_while_busy
    # it waited for the requests in flight, not for the busy connections to stop
    assert meanwhile < 50, f"{meanwhile} answers to the busy connections while one more waited"
