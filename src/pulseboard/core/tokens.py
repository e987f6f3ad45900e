"""Bearer tokens and one-time links: minted once, stored only as a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class MintedToken:
    plaintext: str  # shown once, never stored
    prefix: str  # kept for display ("pb_3xK9…")
    digest: str  # stored


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def mint_token(kind: str = "pb") -> MintedToken:
    plaintext = f"{kind}_{secrets.token_urlsafe(32)}"
    return MintedToken(
        plaintext=plaintext, prefix=plaintext[: len(kind) + 7], digest=hash_token(plaintext)
    )


def digests_match(plaintext: str, digest: str) -> bool:
    return hmac.compare_digest(hash_token(plaintext), digest)
