"""gunicorn's threaded worker, keeping a busy keep-alive connection on its thread.

gunicorn's `gthread` hands every kept-alive connection back to the worker's main thread after
each response: the main thread polls it, and a pool thread is woken again for its next request
(two poller changes, a pipe write and read, a future and two thread wake-ups per request). A
client sending its next request at once (an SDK or a load test; ~0.2 ms later) waits that round
trip for nothing. This worker lets the thread that answered wait `LINGER_S` for the next
request on the same connection, then hands the connection back as gunicorn does; it waits only
while every queued connection has a free thread to take it.
"""

from __future__ import annotations

import socket
import threading

from gunicorn.workers.gthread import ThreadWorker

# Long enough for a client's next request in a closed loop, short enough that an idle keep-alive
# connection holds a pool thread only briefly (the pool has PNIL_WEB_THREADS of them).
LINGER_S = 0.002


class LingeringThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._waiting = 0  # connections handed to the pool that no thread has taken yet
        self._active = 0  # pool threads handling a connection (waiting on one included)
        self._count_lock = threading.Lock()

    def enqueue_req(self, conn):
        with self._count_lock:
            self._waiting += 1
        super().enqueue_req(conn)

    def handle(self, conn):
        with self._count_lock:
            self._waiting -= 1
            self._active += 1
        try:
            keepalive = super().handle(conn)
            if self.cfg.is_ssl or conn.is_http2:
                return keepalive  # MSG_PEEK is plain TCP's
            while keepalive is True and self._may_wait() and _next_request_within(conn, LINGER_S):
                keepalive = super().handle(conn)
            return keepalive
        finally:
            with self._count_lock:
                self._active -= 1

    def _may_wait(self) -> bool:
        """While every queued connection has a free thread to take it, and one more is spare:
        busy connections never hold every thread while others queue (they then take turns
        through the poller, as with gthread)."""
        return self.alive and self._waiting + self._active < self.cfg.threads


def _next_request_within(conn, seconds: float) -> bool:
    """Whether the connection has (or gets within `seconds`) bytes of a next request."""
    if conn.parser.unreader.buf.getvalue():
        return True  # read ahead with the last request
    sock = conn.sock
    try:
        sock.settimeout(seconds)
        return bool(sock.recv(1, socket.MSG_PEEK))  # b"": the client closed it
    except TimeoutError:
        return False
    except OSError:
        return False
    finally:
        try:
            sock.settimeout(None)
        except OSError:
            pass
