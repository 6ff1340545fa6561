"""GET /health: UP with the database, 503 JSON without it."""

from infra.settings import Settings
from web.app import create_app


def test_health_is_up_with_a_database(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "UP"}


def test_health_is_503_json_when_the_database_is_unreachable(tmp_path):
    dead = f"postgresql://postgres@/postgres?host={tmp_path}&port=1&connect_timeout=1"
    app = create_app(Settings(database_url=dead, allow_anonymous=True, db_timeout_s=1.0))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.is_json and response.get_json()["status"] == "DOWN"


def test_api_answers_json_503_not_html_when_the_database_is_gone(tmp_path):
    dead = f"postgresql://postgres@/postgres?host={tmp_path}&port=1&connect_timeout=1"
    app = create_app(Settings(database_url=dead, allow_anonymous=True, db_timeout_s=1.0))
    response = app.test_client().get("/functions")
    assert response.status_code == 503 and response.is_json
    assert "Traceback" not in response.get_data(as_text=True)
