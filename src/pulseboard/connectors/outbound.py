"""The outbound fetch policy from settings, shared by the pull connectors and the worker.

``PULSEBOARD_ALLOW_PRIVATE_CIDRS`` (the one bypass of the SSRF rules) and
``PULSEBOARD_CA_BUNDLE`` (extra trusted CAs for internal endpoints) become one
``SafeFetchPolicy``; every save-time check and every pull uses it, so both judge a URL
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from pulseboard.core.safe_http import SafeFetchPolicy, parse_allowed_cidrs


def fetch_policy() -> SafeFetchPolicy:
    config: Mapping[str, Any] = settings.PULSEBOARD
    return SafeFetchPolicy(
        allow_private=parse_allowed_cidrs(str(config.get("ALLOW_PRIVATE_CIDRS", ""))),
        ca_bundle=str(config.get("CA_BUNDLE", "")) or None,
    )
