"""Outgoing e-mail (DESIGN §15, issue 12 item 3): invites e-mailed over real SMTP when
e-mail is configured, the link shown to copy when it is not, failures told, not hidden.

The SMTP server is aiosmtpd on 127.0.0.1, started by the test (``tests/smtp_server.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import MembershipFactory
from tests.smtp_server import Inbox, free_port, mail_settings_apply, smtp_server

from pulseboard.orgs.mail import mail_enabled, mail_send
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db

INVITE_LINK = r"https://kpi\.example\.com/invite/pbi_[A-Za-z0-9_-]{43}/"


@pytest.fixture
def admin_client(settings: Any) -> tuple[Client, Membership]:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "BASE_URL": "https://kpi.example.com"}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    admin = MembershipFactory(role="admin")
    client = Client()
    client.force_login(admin.user)
    return client, admin


@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    with smtp_server() as server:
        mail_settings_apply(settings, server.url())
        yield server


def invite(client: Client, email: str = "grace@example.com", role: str = "member") -> str:
    response = client.post(reverse("web:member-invite"), {"email": email, "role": role})
    assert response.status_code == 200, response.content.decode()[:400]
    return response.content.decode()


def shown_link(page: str) -> str:
    found = re.search(r'id="invite-link" type="text" readonly value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_an_invite_with_an_address_is_emailed_with_its_link(
    admin_client: tuple[Client, Membership], inbox: Inbox
) -> None:
    client, admin = admin_client
    page = invite(client, role="admin")
    [message] = inbox.messages
    assert message["To"] == "grace@example.com"
    assert message["Subject"] == f"You are invited to {admin.org.name} on Pulseboard"
    link = inbox.link(INVITE_LINK)
    assert link == shown_link(page)
    assert "as an admin" in inbox.body() and admin.user.email in inbox.body()
    assert 'data-invite-mail="sent"' in page and "We e-mailed this link" in page


def test_the_emailed_link_lets_the_invitee_join(
    admin_client: tuple[Client, Membership], inbox: Inbox
) -> None:
    client, admin = admin_client
    invite(client)
    path = inbox.link(INVITE_LINK).removeprefix("https://kpi.example.com")
    joined = Client().post(path, {"email": "grace@example.com", "password": "a-long-passphrase"})
    assert joined.status_code == 302
    assert Membership.objects.filter(org=admin.org, user__email="grace@example.com").exists()


def test_an_invite_without_an_address_is_not_mailed_and_shows_the_link(
    admin_client: tuple[Client, Membership], inbox: Inbox
) -> None:
    client, _ = admin_client
    page = invite(client, email="")
    assert inbox.messages == []
    assert re.fullmatch(INVITE_LINK, shown_link(page))
    assert "data-invite-mail" not in page


def test_without_email_the_page_says_so_and_shows_the_link_to_copy(
    admin_client: tuple[Client, Membership], mailoutbox: list[Any]
) -> None:
    client, _ = admin_client
    assert (
        "e-mail is not configured on this server"
        in client.get(reverse("web:members")).content.decode()
    )
    page = invite(client)
    assert mailoutbox == []
    assert re.fullmatch(INVITE_LINK, shown_link(page))
    assert "We e-mailed" not in page and "data-invite-mail" not in page


def test_a_failed_invite_mail_is_reported_and_the_link_still_shown(
    admin_client: tuple[Client, Membership], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = admin_client
    mail_settings_apply(settings, f"smtp://127.0.0.1:{free_port()}")  # nothing listens
    with caplog.at_level(logging.DEBUG):
        page = invite(client)
    assert 'data-invite-mail="failed"' in page and "could not be sent" in page
    assert re.fullmatch(INVITE_LINK, shown_link(page))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "was not sent" in logged and "pbi_" not in logged and "/invite/" not in logged


def test_mail_send_sends_nothing_when_email_is_off(mailoutbox: list[Any]) -> None:
    assert not mail_enabled()
    assert mail_send(to="a@example.com", subject="s", body="b") is False
    assert mailoutbox == []


def test_mail_send_reports_a_server_that_refuses_the_recipient(settings: Any) -> None:
    with smtp_server() as server:
        mail_settings_apply(settings, server.url())
        assert mail_send(to="a@example.com", subject="s", body="b") is True
        server.refuse_recipients = True
        assert mail_send(to="a@example.com", subject="s", body="b") is False
    assert len(server.messages) == 1
