"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), and Django settings pointing at it.

The server speaks plain SMTP, STARTTLS or implicit TLS (certificates from ``trustme``)
and can require a user name and password, so the e-mail settings are exercised the way
an operator's ``PULSEBOARD_EMAIL_URL`` would be: parsed by ``config.env.email_config``
and mapped by ``config.settings.email_settings``.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from django.core.mail.utils import DNS_NAME

from pulseboard.config.env import Env, email_config
from pulseboard.config.settings import email_settings

SENDER = "Pulseboard <kpi@example.com>"
Security = Literal["plain", "starttls", "implicit"]
SCHEMES: dict[Security, str] = {"plain": "smtp", "starttls": "smtp+starttls", "implicit": "smtps"}


@dataclass
class Inbox:
    """What the server received: one parsed message per accepted DATA, plus the logins."""

    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    credentials: tuple[str, str] | None = None
    port: int = 0
    security: Security = "plain"
    refuse_recipients: bool = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse_recipients:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(given)
        return AuthResult(success=given == self.credentials)

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        """The PULSEBOARD_EMAIL_URL an operator would write for this server."""
        userinfo = f"{user}:{password}@" if user is not None else ""
        return f"{SCHEMES[self.security]}://{userinfo}127.0.0.1:{self.port}"

    def body(self, index: int = -1) -> str:
        part = self.messages[index].get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def link(self, pattern: str, index: int = -1) -> str:
        """The first URL in a received message that matches ``pattern``."""
        found = re.search(pattern, self.body(index))
        assert found is not None, self.body(index)
        return found.group(0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(
    *,
    security: Security = "plain",
    credentials: tuple[str, str] | None = None,
    ca: trustme.CA | None = None,
) -> Iterator[Inbox]:
    """Run an SMTP server on 127.0.0.1 for the ``with`` block; yields its inbox."""
    inbox = Inbox(credentials=credentials, port=free_port(), security=security)
    tls: ssl.SSLContext | None = None
    if security != "plain":
        assert ca is not None, "a TLS server needs a test CA"
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(tls)
    options: dict[str, Any] = {}
    if credentials is not None:
        # PLAIN only: after a refused PLAIN, smtplib's LOGIN fallback stalls against
        # aiosmtpd until the client's timeout.
        options.update(
            authenticator=inbox.authenticate, auth_required=True, auth_exclude_mechanism=["LOGIN"]
        )
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS connection is
        # encrypted from the first byte, and a plain one lets the test see AUTH arrive.
        options["auth_require_tls"] = security == "starttls"
    if security == "starttls":
        options.update(tls_context=tls, require_starttls=True)
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=inbox.port,
        server_hostname="localhost",  # else aiosmtpd resolves this host's name: slow here
        ssl_context=tls if security == "implicit" else None,
        **options,
    )
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def mail_settings_apply(settings: Any, url: str, *, sender: str = SENDER) -> None:
    """Turn e-mail on in the test's settings exactly as ``PULSEBOARD_EMAIL_URL`` would."""
    # Django asks the resolver for this host's name once per process (EHLO, Message-ID);
    # on a machine without DNS that lookup alone takes seconds.
    if not hasattr(DNS_NAME, "_fqdn"):
        DNS_NAME._fqdn = "localhost"  # type: ignore[attr-defined]
    config = email_config(Env(email_url=url, email_from=sender))
    assert config is not None
    for name, value in email_settings(config).items():
        setattr(settings, name, value)
    settings.PULSEBOARD = {**settings.PULSEBOARD, "EMAIL_ENABLED": True}
