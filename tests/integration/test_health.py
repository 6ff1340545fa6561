"""GET /health: UP with the database, 503 JSON without it."""

from infra.settings import Settings
from migrations import migration_files
from tests.integration.conftest import wait_for
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


def test_ready_once_the_sandboxes_are_warm(client):
    first = client.get("/ready")
    assert first.status_code in (200, 503) and first.is_json

    wait_for(lambda: client.get("/ready").status_code == 200, timeout=60)
    assert client.get("/ready").get_json() == {
        "status": "READY",
        "checks": {"database": "UP", "schema": "CURRENT", "sandboxes": "WARM"},
    }


def test_not_ready_while_a_migration_is_missing(client, db):
    db.execute("DELETE FROM schema_migrations WHERE name = %s", (migration_files()[-1].name,))
    body = client.get("/ready").get_json()
    assert body["status"] == "NOT_READY" and body["checks"]["schema"] == "BEHIND"
    assert migration_files()[-1].name in body["message"]


def test_not_ready_without_a_database(tmp_path):
    dead = f"postgresql://postgres@/postgres?host={tmp_path}&port=1&connect_timeout=1"
    app = create_app(Settings(database_url=dead, allow_anonymous=True, db_timeout_s=1.0))
    response = app.test_client().get("/ready")
    assert response.status_code == 503 and response.get_json()["checks"]["database"] == "DOWN"
