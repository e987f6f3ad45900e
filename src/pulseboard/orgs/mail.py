"""Outgoing e-mail: whether it is on, the SMTP backend, sending, and the invite message.

E-mail is optional (DESIGN §15): ``PULSEBOARD_EMAIL_URL`` turns it on (``config/env.py``
parses it, ``config/settings.py`` maps it to Django's SMTP settings). ``mail_send``
answers whether the mail server took the message, so every caller can tell the person
the truth: a page never says "check your e-mail" for a mail that was not sent. Each
message carries a credential (an invite or a password-reset link), so a failure is
logged with the error only, never with the message, and nothing is ever printed to a
console backend.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import UTC
from typing import Final

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.utils.functional import cached_property

from pulseboard.core.log_redaction import redact
from pulseboard.orgs.models import Invite

logger = logging.getLogger(__name__)

ROLE_PHRASE: Final = {"admin": "an admin", "member": "a member"}


def mail_enabled() -> bool:
    """E-mail is configured (``PULSEBOARD_EMAIL_URL``)."""
    return bool(settings.PULSEBOARD.get("EMAIL_ENABLED"))


class SmtpEmailBackend(EmailBackend):
    """Django's SMTP backend that also trusts ``PULSEBOARD_CA_BUNDLE`` (an internal relay's CA)."""

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        bundle = str(settings.PULSEBOARD.get("CA_BUNDLE") or "")
        if bundle:
            context.load_verify_locations(cafile=bundle)
        return context


def mail_send(*, to: str, subject: str, body: str) -> bool:
    """Send one plain-text message; True when the mail server accepted it.

    False when e-mail is off or the server refused, failed or did not answer (the
    reason is logged, without the message, which holds a link).
    """
    if not mail_enabled():
        return False
    message = EmailMessage(subject=subject, body=body, to=[to])
    try:
        sent = message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError, UnicodeError, ValueError) as exc:
        domain = to.rsplit("@", 1)[-1]
        # The server's reply says why (auth refused, relay denied); redact() in case an
        # odd server echoes part of the message back.
        logger.warning(
            "e-mail to an address at %s was not sent: %s: %s",
            domain,
            exc.__class__.__name__,
            redact(str(exc))[:300],
        )
        return False
    return sent == 1


def invite_mail_send(*, invite: Invite, link: str) -> bool:
    """E-mail an invite link to the address the invite is for; True when it went out."""
    if not invite.email:
        return False
    org = invite.org.name
    inviter = invite.created_by.email if invite.created_by else "An admin"
    expires = invite.expires_at.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")
    body = (
        f"{inviter} invites you to join {org} on Pulseboard as "
        f"{ROLE_PHRASE.get(invite.role, invite.role)}.\n\n"
        f"Accept the invitation here (the link works once, until {expires}):\n"
        f"{link}\n\n"
        "If you did not expect this invitation, ignore this message.\n"
    )
    return mail_send(to=invite.email, subject=f"You are invited to {org} on Pulseboard", body=body)
