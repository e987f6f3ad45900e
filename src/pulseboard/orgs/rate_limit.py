"""Per-token rate limit on API writes (POST, PUT, PATCH, DELETE): a fixed-window counter.

Design: one ``ApiWriteWindow`` row per token holds the current window's start
and count. Taking a slot is a single conditional UPDATE ("bump the count, or
restart it in a new window, unless this window is full"), so concurrent
requests from any number of gunicorn processes and threads count exactly, on
SQLite and PostgreSQL alike, without a shared cache to configure. The rate
comes from ``PULSEBOARD_API_WRITE_RATE`` (default ``120/minute``). Reads are
never limited; a full window answers 429 with ``Retry-After`` (seconds until
the next window). Fixed windows allow a burst of up to twice the rate across a
window boundary; for a guard against runaway scripts that is fine.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from pulseboard.core import clock
from pulseboard.orgs.api_auth import ApiPrincipal
from pulseboard.orgs.models import ApiWriteWindow
from pulseboard.orgs.rates import Rate, parse_rate, retry_after, window_start

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@lru_cache(maxsize=4)
def _parsed(text: str) -> Rate:
    return parse_rate(text)


def write_rate() -> Rate:
    """The configured rate (validated at start-up by ``config/env.py``)."""
    return _parsed(settings.PULSEBOARD["API_WRITE_RATE"])


def write_slot_take(*, token_id: str, timestamp: float, rate: Rate) -> int | None:
    """Count one write for the token; None when allowed, else seconds until it may retry."""
    start = window_start(timestamp, rate)
    bump = {
        "count": Case(When(window_start=start, then=F("count") + 1), default=Value(1)),
        "window_start": Value(start),
    }
    row = ApiWriteWindow.objects.filter(token_id=token_id).exclude(
        window_start=start, count__gte=rate.limit
    )
    if row.update(**bump):
        return None
    if not ApiWriteWindow.objects.filter(token_id=token_id).exists():
        try:
            with transaction.atomic():
                ApiWriteWindow.objects.create(token_id=token_id, window_start=start, count=1)
            return None
        except IntegrityError:
            # Another request created the row first: count against it like any other.
            if row.update(**bump):
                return None
    return retry_after(timestamp, rate)


class TokenWriteThrottle(BaseThrottle):
    """Ninja throttle: every non-safe request of an authenticated token takes a slot."""

    def __init__(self) -> None:
        # gthread workers share this object; wait() must see its own thread's answer.
        self._local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        self._local.wait = None
        caller = getattr(request, "auth", None)
        if request.method in SAFE_METHODS or not isinstance(caller, ApiPrincipal):
            return True
        wait = write_slot_take(
            token_id=caller.token.pk, timestamp=clock.now().timestamp(), rate=write_rate()
        )
        self._local.wait = wait
        return wait is None

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)
