"""Settings from the environment: anonymous access is off unless asked for."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infra.settings import MIB, Settings

URL = "postgresql://pnil@db.example:5432/pnil"
ROOT = Path(__file__).resolve().parents[2]


def test_anonymous_access_is_off_without_the_variable():
    settings = Settings.from_env({"DATABASE_URL": URL})
    assert settings.allow_anonymous is False
    assert Settings(database_url=URL).allow_anonymous is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("ON", True), ("0", False), ("false", False), ("", False), ("nope", False)],
)
def test_anonymous_access_flag(value, expected):
    settings = Settings.from_env({"DATABASE_URL": URL, "PNIL_ALLOW_ANONYMOUS": value})
    assert settings.allow_anonymous is expected


def test_production_configuration_leaves_anonymous_access_off():
    for name in ("Procfile", "gunicorn.conf.py"):
        text = (ROOT / name).read_text()
        assert "PNIL_ALLOW_ANONYMOUS" not in text, f"{name} must not turn anonymous access on"


def test_defaults_and_overrides():
    settings = Settings.from_env(
        {"DATABASE_URL": f"  {URL} ", "PNIL_MAX_BODY_BYTES": "1000", "PNIL_LOG_LEVEL": "debug"}
    )
    assert settings.database_url == URL
    assert settings.max_body_bytes == 1000
    assert settings.max_source_bytes == 1 * MIB
    assert settings.log_level == "DEBUG"


def test_missing_database_url_says_what_to_do():
    with pytest.raises(RuntimeError, match="make run"):
        Settings.from_env({})


def test_a_non_integer_says_which_variable():
    with pytest.raises(ValueError, match="PNIL_MAX_BODY_BYTES"):
        Settings.from_env({"DATABASE_URL": URL, "PNIL_MAX_BODY_BYTES": "2MB"})


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings(database_url=URL).allow_anonymous = True  # type: ignore[misc]


def test_quotas_and_retention_have_defaults_and_take_positive_overrides():
    defaults = Settings.from_env({"DATABASE_URL": "postgresql://x"})
    assert (defaults.retention.execution_days, defaults.retention.event_days) == (30, 7)
    assert defaults.retention.versions_kept == 100 and defaults.quotas.pending_executions == 10_000

    tuned = Settings.from_env(
        {"DATABASE_URL": "postgresql://x", "PNIL_EXECUTION_RETENTION_DAYS": "90", "PNIL_QUOTA_FUNCTIONS": "5"}
    )
    assert tuned.retention.execution_days == 90 and tuned.quotas.functions == 5
    with pytest.raises(ValueError, match="PNIL_QUOTA_KV_KEYS"):
        Settings.from_env({"DATABASE_URL": "postgresql://x", "PNIL_QUOTA_KV_KEYS": "0"})
