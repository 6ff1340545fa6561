"""`python -m web.secrets rotate | new-key`: re-encrypt every secret under the current key.

Rotation: make a key (`new-key`); give every pnil process PNIL_SECRET_KEY=<new> and
PNIL_SECRET_KEY_PREVIOUS=<old> (both open secrets meanwhile); run `rotate` with the same two
variables; then drop PNIL_SECRET_KEY_PREVIOUS everywhere. Finds the database as `make run` does.
"""

from __future__ import annotations

import argparse
import os
import sys

import psycopg

from infra.embedded_postgres import resolve_database_url
from infra.secretbox import SecretBox, SecretKeyError, new_key
from infra.settings import Settings
from store import secrets as store


def rotate(conn: psycopg.Connection, box: SecretBox) -> tuple[int, int]:
    """Re-encrypt every secret under the box's current key; (rotated, written meanwhile)."""
    rotated = raced = 0
    for tenant_id, name, token in store.every_token(conn):
        if store.replace_token(conn, tenant_id, name, token, box.rotate(token)):
            rotated += 1
        else:
            raced += 1  # written (or deleted) meanwhile: a new write is under the current key already
    return rotated, raced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.secrets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rotate", help="re-encrypt every secret under PNIL_SECRET_KEY")
    sub.add_parser("new-key", help="print a fresh key for PNIL_SECRET_KEY")
    args = parser.parse_args(argv)
    if args.command == "new-key":
        print(new_key())
        return 0
    url = resolve_database_url()
    settings = Settings.from_env({**os.environ, "DATABASE_URL": url})
    try:
        box = SecretBox(settings.secret_key, settings.secret_keys_previous)
        with psycopg.connect(url, autocommit=True) as conn:
            rotated, raced = rotate(conn, box)
    except SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"rotated {rotated} secret(s) to the current key; {raced} were written meanwhile (already current)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
