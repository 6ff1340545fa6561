"""Access lines: one per request, except the console's own successful reads and health probes
(DEBUG only)."""

from __future__ import annotations

import logging


def access_levels(caplog, client, path: str, headers: dict | None = None) -> list[int]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="web.access"):
        client.get(path, headers=headers or {})
    return [r.levelno for r in caplog.records if r.name == "web.access"]


def test_the_consoles_polling_logs_at_debug_and_everything_else_at_info(caplog, client):
    console = {"X-Pnil-Client": "console"}

    assert access_levels(caplog, client, "/functions") == [logging.INFO]
    assert access_levels(caplog, client, "/functions", console) == [logging.DEBUG]
    assert access_levels(caplog, client, "/console") == [logging.DEBUG]
    assert access_levels(caplog, client, "/health") == [logging.DEBUG]
    assert access_levels(caplog, client, "/functions/nope", console) == [logging.INFO]  # an error shows
