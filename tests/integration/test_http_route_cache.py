"""HTTP trigger routes cached per web process: a change made through one app reaches another at
once (NOTIFY), and a lost LISTEN never leaves a process serving routes it can no longer hear about."""

from __future__ import annotations

import psycopg
import pytest

from infra.listener import Listener
from infra.settings import Settings
from store import http_bindings
from tests.integration.conftest import close_app, wait_for
from tests.integration.execute_helpers import running_api
from tests.integration.test_http_triggers import bind
from web.app import create_app
from web.http_triggers.route_cache import RouteCache


@pytest.fixture(scope="module")
def two_apps(server_url, template_url):
    """Two web apps (as two web processes would be) on one database, with the compile pipeline."""
    with running_api(server_url, runner_pool_size=1) as first:
        url = first.config["TEST_DATABASE_URL"]
        second = create_app(Settings(database_url=url, allow_anonymous=True, runner_pool_size=1))
        try:
            yield first, second
        finally:
            close_app(second)


def test_a_path_changed_through_one_app_stops_answering_on_the_other(two_apps):
    first, second = (app.test_client() for app in two_apps)
    fid = bind(first, "/before")
    assert second.post("/http/default/before", json={}).status_code == 200  # now in its cache
    assert wait_for(lambda: second.application.extensions["pnil.http_routes"].listening.is_set())
    assert second.post("/http/default/before", json={}).status_code == 200  # served from it

    moved = first.put(f"/functions/{fid}", json={"httpPath": "/after"})

    assert moved.status_code == 200, moved.get_json()
    wait_for(lambda: second.post("/http/default/before", json={}).status_code == 404, timeout=20)
    assert second.post("/http/default/after", json={}).status_code == 200
    assert first.post("/http/default/before", json={}).status_code == 404  # its own write: at once


def test_a_function_made_key_only_elsewhere_is_refused_without_a_key(two_apps):
    first, second = (app.test_client() for app in two_apps)
    fid = bind(first, "/open")
    assert second.get("/http/default/open").status_code == 200

    first.put(f"/functions/{fid}", json={"httpAuth": "key"})

    wait_for(lambda: second.get("/http/default/open").status_code == 401, timeout=20)


class Loads:
    """The real query, counted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.count = 0

    def __call__(self, slug: str) -> list[dict]:
        self.count += 1
        with psycopg.connect(self.url) as conn:
            return http_bindings.for_tenant_slug(conn, slug)


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_while_the_listen_is_lost_every_lookup_reads_the_database(two_apps):
    first, _ = two_apps
    url = first.config["TEST_DATABASE_URL"]
    client = first.test_client()
    fid = bind(client, "/lost")
    cache = RouteCache(url, max_age_s=3600, listener=Listener(url))  # its own: this test stops it
    loads = Loads(url)
    try:
        wait_for(cache.listening.is_set)
        cache.bindings("default", loads)
        cache.bindings("default", loads)
        assert loads.count == 1
        cache.listener.reconnect_after_s = 3600  # stays down until the test ends

        _terminate(url, cache.backend_pid)
        wait_for(lambda: not cache.listening.is_set())
        with psycopg.connect(url) as conn:  # a change whose NOTIFY nobody hears
            conn.execute("UPDATE functions SET http_path = '/found' WHERE id = %s", (fid,))
        seen = cache.bindings("default", loads)
        cache.bindings("default", loads)

        assert loads.count == 3
        assert "/found" in {b["http_path"] for b in seen}
    finally:
        cache.close()
        cache.listener.close()


def test_a_listen_that_comes_back_starts_from_an_empty_cache(two_apps):
    first, _ = two_apps
    url = first.config["TEST_DATABASE_URL"]
    cache = RouteCache(url, max_age_s=3600, listener=Listener(url))  # its own: this test stops it
    loads = Loads(url)
    try:
        wait_for(cache.listening.is_set)
        cache.bindings("default", loads)
        lost = cache.backend_pid

        _terminate(url, lost)
        wait_for(lambda: cache.listening.is_set() and cache.backend_pid != lost, timeout=20)
        cache.bindings("default", loads)
        cache.bindings("default", loads)

        assert loads.count == 2  # read again once after the LISTEN came back, then cached
    finally:
        cache.close()
        cache.listener.close()


def test_a_cache_of_age_zero_never_keeps_anything(two_apps):
    first, _ = two_apps
    url = first.config["TEST_DATABASE_URL"]
    cache = RouteCache(url, max_age_s=0)
    loads = Loads(url)

    cache.bindings("default", loads)
    cache.bindings("default", loads)

    assert loads.count == 2 and not cache.listening.is_set()
