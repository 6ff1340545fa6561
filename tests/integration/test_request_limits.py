"""Request limits through a real gunicorn: every answer JSON, a chunked body never silently cut."""

from __future__ import annotations

import pytest
import requests

from bench.stack import Stack
from tests.conftest import throwaway_database

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def url(server_url, template_url):
    with throwaway_database(server_url) as database_url, Stack(("web",), database_url=database_url) as stack:
        yield stack.base_url


def _chunks(total: int, first: bytes = b""):
    yield first
    sent, block = len(first), b" " * 65536
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        sent += len(piece)
        yield piece


def _json_error(response, status: int) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    return response.json()


def test_a_chunked_body_over_the_limit_is_413_not_cut(url):
    # The first 2 MiB are a valid JSON object followed by spaces: cut at the limit it would parse.
    body = _chunks(10 * MIB, b'{"type": "order.created", "payload": {}}')

    response = requests.post(
        f"{url}/events", data=body, headers={"Content-Type": "application/json"}, timeout=60
    )

    assert "larger than the limit" in _json_error(response, 413)["message"]


def test_a_chunked_body_under_the_limit_is_read_whole(url):
    body = _chunks(64 * 1024, b'{"type": "order.created", "payload": {"n": 1}}')

    response = requests.post(
        f"{url}/events", data=body, headers={"Content-Type": "application/json"}, timeout=60
    )

    assert response.status_code == 202, response.text


def test_a_huge_header_is_431_json(url):
    response = requests.get(
        f"{url}/functions", headers={"Authorization": "Bearer " + "x" * 20_000}, timeout=30
    )
    assert "Authorization" in _json_error(response, 431)["message"]


def test_a_long_path_is_414_json(url):
    response = requests.get(f"{url}/functions/{'a' * 6000}", timeout=30)
    assert "4096" in _json_error(response, 414)["message"]


def test_a_nul_in_the_url_is_400_json(url):
    assert "NUL" in _json_error(requests.get(f"{url}/kv?prefix=a%00b", timeout=30), 400)["message"]
    assert "NUL" in _json_error(requests.get(f"{url}/functions/a%00b", timeout=30), 400)["message"]
