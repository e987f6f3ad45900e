"""Invite acceptance throttling: attempts per client address and per invite link.

Accepting an invite signed out creates an account, and whether that works depends on
whether the e-mail address typed already has one; that answer must not be a free oracle
(issue 12). The service gives the same refusal either way for everything it can
(``orgs.services.invite_accept``), and this module bounds how often anyone may ask: at
most ``ATTEMPTS_PER_CLIENT`` acceptance attempts per client address (whatever links it
uses, valid or not) and ``ATTEMPTS_PER_INVITE`` per invite link, in 15-minute windows.

Counting reuses the login throttle's table and conditional update
(``login_throttle.check_slot_take``), so it holds across processes and machines. Keys are
keyed hashes of a purpose and the client address or the link's token: the table holds
neither IPs nor tokens, and the counters never meet the login or reset ones. The client
address is ``core.client_address.client_ip`` (the real client behind a trusted proxy).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime
from typing import Final

from django.conf import settings

from pulseboard.core.errors import DomainError
from pulseboard.orgs.login_throttle import check_slot_take

ATTEMPTS_PER_CLIENT: Final = 20
ATTEMPTS_PER_INVITE: Final = 10


class InviteThrottled(DomainError):
    """Too many acceptance attempts from this client or on this link; ``retry_after`` in s."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many attempts to use an invite link. Try again in {minutes} {unit}.")


def _keyed(purpose: str, part: str) -> str:
    joined = f"{purpose}\x00{part}".encode("utf-8", "surrogatepass")
    return hmac.new(settings.SECRET_KEY.encode(), joined, hashlib.sha256).hexdigest()


def accept_keys(*, token: str, ip: str | None) -> tuple[str, str]:
    """The keys of an attempt's two counters: its client address, its invite link."""
    return _keyed("invite-client", ip or ""), _keyed("invite-link", token)


def accept_slot_take(*, token: str, ip: str | None, now: datetime) -> None:
    """Count one acceptance attempt; raises ``InviteThrottled`` when over either limit.

    The client's counter first: a client over its limit does not also use up the
    attempts of the links it names. Call it outside the acceptance's transaction, so a
    refused attempt still counts.
    """
    client_key, link_key = accept_keys(token=token, ip=ip)
    for key, limit in ((client_key, ATTEMPTS_PER_CLIENT), (link_key, ATTEMPTS_PER_INVITE)):
        wait = check_slot_take(key=key, now=now, limit=limit)
        if wait is not None:
            raise InviteThrottled(wait)
