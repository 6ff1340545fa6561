"""The docs UI works without internet access: every asset it references is served by pnil."""

from __future__ import annotations

import re


def test_docs_and_every_asset_they_reference_are_served_by_pnil(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
    assert refs and all(ref.startswith("/docs/assets/") for ref in refs), refs  # nothing from a CDN
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200 and len(asset.data) > 1000, ref


def test_root_redirects_to_the_console_and_the_spec_declares_bearer_keys(client):
    root = client.get("/")
    assert root.status_code == 302 and root.headers["Location"] == "/console"
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key: python -m web.keys create TENANT",
    }
    assert client.get("/docs/assets/../../pyproject.toml").status_code == 404


def test_the_spec_says_which_operations_need_a_key(client, database_url):
    from infra.settings import Settings
    from tests.integration.conftest import close_app
    from web.app import create_app

    anonymous = client.get("/openapi.json").get_json()
    secure_app = create_app(Settings(database_url=database_url, allow_anonymous=False))
    try:
        secure = secure_app.test_client().get("/openapi.json").get_json()
    finally:
        close_app(secure_app)

    assert anonymous["security"] == [{"bearerAuth": []}, {}]  # a key, or none with anonymous access
    assert secure["security"] == [{"bearerAuth": []}]
    assert secure["paths"]["/health"]["get"]["security"] == []
    assert secure["paths"]["/http/{tenant}/{path}"]["post"]["security"] == []
