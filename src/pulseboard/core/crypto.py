"""Encryption at rest for secrets the application must read back (MultiFernet).

The first key of ``PULSEBOARD_ENCRYPTION_KEYS`` encrypts; every key decrypts, so
operators rotate by prepending a new key and running ``pulseboard rotate-keys``.
Values that only need comparing (API tokens) are hashed instead (``core.tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(Exception):
    """No configured key decrypts this value (a key was removed too early)."""


class Cipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError) as exc:
            raise DecryptionFailed("no configured encryption key decrypts this value") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt with the first key (used by ``pulseboard rotate-keys``)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError) as exc:
            raise DecryptionFailed("no configured encryption key decrypts this value") from exc


def cipher() -> Cipher:
    return Cipher(settings.ENCRYPTION_KEYS)
