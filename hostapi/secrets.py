"""The start-up rule for secrets: once any exist, a process needs a key that opens them."""

from __future__ import annotations

import psycopg

from infra.secretbox import SecretBox, SecretKeyError
from store import secrets as secret_store


def check_key(conn: psycopg.Connection, box: SecretBox) -> None:
    """Raise SecretKeyError when secrets are stored and the box has no key, or not their key."""
    token = secret_store.any_ciphertext(conn)
    if token is None:
        return
    if not box.configured:
        raise SecretKeyError(
            "refusing to start: secrets are stored but PNIL_SECRET_KEY is not set; give every pnil "
            "process the key they were written with (make run keeps it in .pnil/secret-key)"
        )
    try:
        box.decrypt(token)
    except SecretKeyError as exc:
        raise SecretKeyError(f"refusing to start: {exc}") from exc
