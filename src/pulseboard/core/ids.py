"""Opaque, unguessable identifiers for objects that appear in URLs."""

import secrets


def new_id() -> str:
    """16 url-safe characters (96 random bits): not sequential, not enumerable."""
    return secrets.token_urlsafe(12)
