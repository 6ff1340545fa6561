"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256, authenticated) from `cryptography`.

The current key encrypts; the current and the previous keys decrypt, so that during a rotation
(`python -m web.secrets rotate`) every process reads secrets whichever key they are under.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretKeyError(Exception):
    """No key, a malformed key, or a key that does not open a stored secret."""


def new_key() -> str:
    """A fresh key for PNIL_SECRET_KEY."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts under the current key, decrypts under any of the current and previous keys."""

    def __init__(self, current: str | None, previous: tuple[str, ...] = ()) -> None:
        self.configured = bool(current)
        keys = [current, *previous] if current else []
        try:
            self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys]) if keys else None
        except (ValueError, UnicodeEncodeError) as exc:
            raise SecretKeyError(
                "PNIL_SECRET_KEY (and PNIL_SECRET_KEY_PREVIOUS) must be Fernet keys: 32 random bytes in "
                "URL-safe base64; make one with python -m web.secrets new-key"
            ) from exc

    def _box(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretKeyError(
                "PNIL_SECRET_KEY is not set, so secrets cannot be stored or read; "
                "make one with python -m web.secrets new-key and give it to every pnil process"
            )
        return self._fernet

    def encrypt(self, value: str) -> bytes:
        """The stored form of a value."""
        return self._box().encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """The value of a stored token (SecretKeyError when no configured key opens it)."""
        try:
            return self._box().decrypt(bytes(token)).decode("utf-8")
        except InvalidToken as exc:
            raise SecretKeyError(
                "no configured key opens this secret: is PNIL_SECRET_KEY the key it was written with "
                "(or PNIL_SECRET_KEY_PREVIOUS during a rotation)?"
            ) from exc

    def rotate(self, token: bytes) -> bytes:
        """The token re-encrypted under the current key."""
        try:
            return self._box().rotate(bytes(token))
        except InvalidToken as exc:
            raise SecretKeyError("no configured key opens this secret; it cannot be rotated") from exc
