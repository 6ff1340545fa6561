"""Cancel requests across processes: a LISTEN on `pnil_cancel` in every process that runs executions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from infra.logs import event

log = logging.getLogger(__name__)
CHANNEL = "pnil_cancel"


class CancelListener:
    """Calls `on_cancel(execution_id)` for every cancel request NOTIFYed by any process."""

    def __init__(self, dsn: str, on_cancel: Callable[[str], None]) -> None:
        self.dsn = dsn
        self.on_cancel = on_cancel
        self._stop = threading.Event()
        self.ready = threading.Event()
        threading.Thread(target=self._listen, name="cancel-listener", daemon=True).start()

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=0.5):
                            self.on_cancel(notify.payload)
            except psycopg.Error as exc:
                event(log, "cancel.listener_lost", level=logging.WARNING, error=str(exc).strip())
                self._stop.wait(1.0)
