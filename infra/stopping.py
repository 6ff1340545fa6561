"""Stop requests from SIGTERM/SIGINT, recorded without taking a lock.

A Python signal handler runs in the main thread between two bytecodes, possibly while that
thread holds a lock (inside `threading.Event.wait()`, a `print`, a logging handler). A handler
that takes the same lock (`Event.set()` does) deadlocks the process. The handler here only
writes a flag; the main thread polls it and does the stopping itself, outside the handler.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

POLL_S = 0.1


class StopSignals:
    """`install()` once in the main thread; `requested` turns true on SIGTERM or SIGINT."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None

    def install(self) -> StopSignals:
        """Take over SIGTERM and SIGINT (Ctrl-C) for this process."""
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, _frame) -> None:
        # Plain attribute writes only: no lock, no I/O, no logging.
        self.signum = signum
        self.requested = True

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`, returning early (True) once a stop was requested."""
        deadline = time.monotonic() + seconds
        while not self.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_S, left))
        return True

    def wait_then(self, stop: Callable[[], None], *, alive: Callable[[], bool] = lambda: True) -> None:
        """Block until a stop is requested (or `alive()` turns false), then call `stop()` here."""
        while not self.requested and alive():
            time.sleep(POLL_S)
        stop()


def run_until_stopped(target: Callable[[], None], stop: Callable[[], None], signals: StopSignals) -> None:
    """Run `target` in a thread; the main thread waits for a signal and calls `stop` outside it."""
    failure: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread below
            failure.append(exc)

    thread = threading.Thread(target=body, name="main-loop")
    thread.start()
    signals.wait_then(stop, alive=thread.is_alive)
    thread.join()
    if failure:
        raise failure[0]
