"""The request's database connection and settings."""

from __future__ import annotations

from flask import current_app

from infra.database import ForkSafePool
from infra.settings import Settings


def pool() -> ForkSafePool:
    """This process's pool."""
    return current_app.extensions["pnil.db"]


def settings() -> Settings:
    """The app's settings."""
    return current_app.extensions["pnil.settings"]
