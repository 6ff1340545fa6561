"""Behind nginx: X-Forwarded-For/-Proto/-Host believed from PNIL_TRUSTED_PROXIES hops, never by default."""

from __future__ import annotations

import logging

import pytest

from infra.settings import Settings
from tests.integration.api_fixtures import api
from tests.integration.conftest import close_app
from tests.integration.test_http_triggers import bind
from web.app import create_app

__all__ = ["api"]  # fixture used below

FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "api.example",
}
PEER = {"REMOTE_ADDR": "10.0.0.2"}  # the proxy, as the server sees it


def seen_by_the_function(app) -> dict:
    response = app.test_client().get("/http/default/whoami?x=1", headers=FORWARDED, environ_base=PEER)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return {"sourceIp": body["sourceIp"], "url": body["url"]}


@pytest.fixture(scope="module")
def bound(api):
    """An HTTP function at /whoami that answers its own input."""
    bind(api.test_client(), "/whoami")
    return api


def test_forwarded_headers_are_ignored_without_trusted_proxies(bound):
    api = bound
    assert seen_by_the_function(api) == {
        "sourceIp": "10.0.0.2",
        "url": "http://localhost/http/default/whoami?x=1",
    }


def test_forwarded_headers_are_believed_from_one_trusted_proxy(bound, caplog):
    api = bound
    caplog.set_level(logging.INFO, logger="web.access")
    proxied = create_app(
        Settings(database_url=api.config["TEST_DATABASE_URL"], allow_anonymous=True, trusted_proxies=1)
    )
    try:
        assert seen_by_the_function(proxied) == {
            "sourceIp": "203.0.113.7",
            "url": "https://api.example/http/default/whoami?x=1",
        }
        logged = [r for r in caplog.records if r.getMessage() == "http.request"]
        assert logged and logged[-1].clientIp == "203.0.113.7"  # the access log too
    finally:
        close_app(proxied)
