"""Cancel requests across processes: a LISTEN on `pnil_cancel` in every process that runs executions,
on the process's one listening connection (infra/listener.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from infra.listener import Listener, process_listener

CHANNEL = "pnil_cancel"


class CancelListener:
    """Calls `on_cancel(execution_id)` for every cancel request NOTIFYed by any process."""

    def __init__(self, dsn: str, on_cancel: Callable[[str], None], listener: Listener | None = None) -> None:
        self.listener = listener or process_listener(dsn)
        self._sub = self.listener.subscribe(CHANNEL, on_cancel)
        self.ready: threading.Event = self._sub.listening  # set while the LISTEN holds

    def close(self) -> None:
        """Stop listening."""
        self._sub.close()
