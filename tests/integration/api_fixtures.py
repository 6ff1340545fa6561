"""Module fixtures shared by API test modules: an app on a fresh database with the compile pipeline.

Import them into a test module (`from tests.integration.api_fixtures import api`); a module whose
tests each need an empty database imports `fresh_api as api` instead. The `client` fixture of
tests/integration/conftest.py then talks to that app.
"""

from __future__ import annotations

import pytest

from tests.integration.execute_helpers import running_api


@pytest.fixture(scope="module")
def api(server_url, template_url):
    with running_api(server_url) as app:
        yield app


@pytest.fixture
def fresh_api(server_url, template_url):
    with running_api(server_url) as app:
        yield app
