"""Keeps credentials that travel in URL paths out of the request log.

Django logs every 4xx and 5xx answer as ``"<reason>: <path>"`` (``django.request``), and
some paths carry a credential: an invite link is ``/invite/<token>/``, and a refused
form posted to a still-valid link is logged with that live token. ``RedactTokens`` is a
logging filter, attached in settings to the loggers that write request paths, that
replaces every minted token (``core.tokens.mint_token``'s ``<kind>_<43 url-safe
characters>``, webhook secrets included) in the record's message and arguments with
``<kind>_[redacted]`` before any handler sees it. DESIGN.md §9: no secret is ever logged.
"""

from __future__ import annotations

import logging
import re
from typing import Final

# mint_token: "<kind>_" + secrets.token_urlsafe(32) (43 characters); a webhook secret is
# "whsec_" + standard base64, whose "/" would end the match of the url-safe pattern.
TOKEN: Final = re.compile(r"\b(whsec)_[A-Za-z0-9+/]{20,}={0,2}|\b([a-z]{2,8})_[A-Za-z0-9_-]{32,}")


def _kind(match: re.Match[str]) -> str:
    return f"{match.group(1) or match.group(2)}_[redacted]"


def redact(text: str) -> str:
    """``text`` with every minted token replaced by ``<kind>_[redacted]``."""
    return TOKEN.sub(_kind, text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True
