"""Login and password-reset throttling, counted in the database in 15-minute windows.

Logins: at most 5 password checks per (e-mail, client address) in 15 minutes.

Enforced in the authentication backend (``ThrottledModelBackend``, the only entry of
``AUTHENTICATION_BACKENDS``), so every path that checks a password through
``django.contrib.auth.authenticate`` shares one counter: the web login today, anything
added later. Counting happens in the database (``LoginFailureWindow``), so it holds across
every gunicorn process, thread and machine without a cache to configure.

Each password check takes a slot *before* the password is compared, with one conditional
UPDATE ("count one more, or start a new window, unless this window is full"): racing
guesses can never get more than ``MAX_FAILURES`` checks between them. A correct password
deletes the row (the owner is back to a clean slate); a wrong one keeps its slot. Once full,
further attempts are refused without checking the password until 15 minutes after the
window's first failure. The refusal is a ``ValidationError`` (``LoginThrottled``), which
Django's ``AuthenticationForm`` shows as the form's error: "Too many failed attempts ...
try again in N minutes".

Pairs, not addresses alone: a stranger guessing someone's password from their own network
cannot lock the owner out of theirs. The key is an HMAC of the pair under the signing key,
so the table holds neither e-mail addresses nor IPs.

Password-reset requests share the table and the counting (``reset_slot_take``): at most
3 per e-mail address (a stranger cannot fill someone's inbox) and 10 per client address
(nor walk a list of addresses) in 15 minutes, whether or not the address has an account,
so the answer says nothing about who has one. Each kind of key hashes its own purpose
with its parts, so the counters never meet. The client address is
``core.client_address.client_ip``: behind a trusted proxy, the real client's.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.http import HttpRequest

from pulseboard.core import clock
from pulseboard.core.client_address import client_ip
from pulseboard.orgs.models import LoginFailureWindow, User

MAX_FAILURES: Final = 5
WINDOW: Final = timedelta(minutes=15)
RESETS_PER_EMAIL: Final = 3
RESETS_PER_CLIENT: Final = 10


class LoginThrottled(ValidationError):
    """Too many failed logins for this e-mail from this address; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(
            f"Too many failed log-in attempts for this e-mail address. "
            f"Try again in {minutes} {unit}.",
            code="throttled",
        )


class ResetThrottled(ValidationError):
    """Too many password-reset requests for this address or from this client."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(
            f"Too many password-reset requests. Try again in {minutes} {unit}.",
            code="throttled",
        )


def _keyed(purpose: str, *parts: str) -> str:
    joined = "\x00".join((purpose, *parts)).encode("utf-8", "surrogatepass")
    return hmac.new(settings.SECRET_KEY.encode(), joined, hashlib.sha256).hexdigest()


def throttle_key(*, email: str, ip: str | None) -> str:
    """The stored key of an (e-mail, client address) pair: an HMAC, not the pair itself."""
    return _keyed("login", email.strip().lower(), ip or "")


def reset_keys(*, email: str, ip: str | None) -> tuple[str, str]:
    """The keys of a reset request's two counters: its e-mail address, its client."""
    return _keyed("reset-email", email.strip().lower()), _keyed("reset-client", ip or "")


def _seconds_left(window_start: datetime, now: datetime) -> int:
    return max(1, math.ceil((window_start + WINDOW - now).total_seconds()))


def check_slot_take(*, key: str, now: datetime, limit: int = MAX_FAILURES) -> int | None:
    """Count one attempt for ``key``; None when allowed, else seconds until it is."""
    fresh = now - WINDOW
    in_window = When(window_start__gt=fresh, then=F("failures") + 1)
    bump = {
        "failures": Case(in_window, default=Value(1)),
        "window_start": Case(
            When(window_start__gt=fresh, then=F("window_start")), default=Value(now)
        ),
    }
    row = LoginFailureWindow.objects.filter(key=key).exclude(
        window_start__gt=fresh, failures__gte=limit
    )
    if row.update(**bump):
        return None
    if not LoginFailureWindow.objects.filter(key=key).exists():
        try:
            with transaction.atomic():
                # New pairs are rare next to repeated ones: the moment to forget stale rows.
                LoginFailureWindow.objects.filter(window_start__lte=fresh).delete()
                LoginFailureWindow.objects.create(key=key, window_start=now, failures=1)
            return None
        except IntegrityError:
            # A racing attempt created the row first: count against it like any other.
            if row.update(**bump):
                return None
    start = LoginFailureWindow.objects.filter(key=key).values_list("window_start", flat=True)
    first = start.first()
    return _seconds_left(first if first is not None else now, now)


def failures_clear(*, key: str) -> None:
    """A correct password: the pair starts from zero."""
    LoginFailureWindow.objects.filter(key=key).delete()


def reset_slot_take(*, email: str, ip: str | None, now: datetime) -> None:
    """Count one password-reset request; raises ``ResetThrottled`` when over either limit.

    The client's counter first: a client over its limit does not also use up the
    addresses it names.
    """
    email_key, client_key = reset_keys(email=email, ip=ip)
    for key, limit in ((client_key, RESETS_PER_CLIENT), (email_key, RESETS_PER_EMAIL)):
        wait = check_slot_take(key=key, now=now, limit=limit)
        if wait is not None:
            raise ResetThrottled(wait)


class ThrottledModelBackend(ModelBackend):
    """Django's model backend behind the per-(e-mail, address) throttle."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        key = throttle_key(email=username, ip=client_ip(request))
        wait = check_slot_take(key=key, now=clock.now())
        if wait is not None:
            raise LoginThrottled(wait)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            failures_clear(key=key)
        return user  # type: ignore[return-value]
