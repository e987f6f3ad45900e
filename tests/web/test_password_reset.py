"""Password reset (DESIGN §15, issue 12 item 3): e-mailed through a real SMTP server, honest
without one, never logged, throttled per e-mail address and per client.

Every mail here travels over SMTP to an aiosmtpd server the test starts on 127.0.0.1,
with the settings ``PULSEBOARD_EMAIL_URL`` produces (``tests/smtp_server.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
import trustme
from django.test import Client
from django.urls import reverse
from tests.smtp_server import Inbox, free_port, mail_settings_apply, smtp_server

from pulseboard.core import clock
from pulseboard.orgs.login_throttle import RESETS_PER_CLIENT, RESETS_PER_EMAIL, WINDOW
from pulseboard.orgs.models import Membership, User

pytestmark = [
    pytest.mark.django_db,
    # The plain-SMTP test server takes AUTH without TLS so the test sees the password arrive.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

RESET_LINK = r"https://kpi\.example\.com/password-reset/[^/\s]+/[^/\s]+/"
ANY_RESET_LINK = re.compile(r"password-reset/[^/\s]+/[^/\s]+/")
NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
def public_url(settings: Any) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "BASE_URL": "https://kpi.example.com"}


@pytest.fixture
def inbox(settings: Any, public_url: None) -> Iterator[Inbox]:
    with smtp_server(credentials=("mailer", "s3cret:pass")) as server:
        # The password has a ':' as real ones do: %-encoded in the URL, decoded for AUTH.
        mail_settings_apply(settings, server.url(user="mailer", password="s3cret%3Apass"))
        yield server


def ask_reset(client: Client, email: str) -> Any:
    return client.post(reverse("web:password-reset"), {"email": email})


def test_the_reset_mail_arrives_over_smtp_and_its_link_sets_a_new_password(
    member: Membership, inbox: Inbox
) -> None:
    client = Client(HTTP_HOST="testserver")
    response = ask_reset(client, member.user.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:password-reset-done")
    assert inbox.logins == [("mailer", "s3cret:pass")]
    [message] = inbox.messages
    assert message["To"] == member.user.email
    assert message["From"] == "Pulseboard <kpi@example.com>"
    assert message["Subject"] == "Reset your Pulseboard password"
    link = inbox.link(RESET_LINK)
    assert "Check your e-mail" in client.get(response["Location"]).content.decode()

    path = link.removeprefix("https://kpi.example.com")
    form_url = client.get(path).url  # Django swaps the token for a session marker
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("web:password-reset-complete")
    assert User.objects.get(pk=member.user_id).check_password(NEW_PASSWORD)
    assert client.get(path, follow=True).content.decode().count("Link no longer valid") == 1


def test_the_link_is_built_on_the_public_url_not_the_requests_host(
    member: Membership, inbox: Inbox, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["evil.example.net"]
    ask_reset(Client(HTTP_HOST="evil.example.net"), member.user.email)
    assert "evil.example.net" not in inbox.body()
    inbox.link(RESET_LINK)


def test_an_address_without_an_account_gets_the_same_answer_and_no_mail(
    member: Membership, inbox: Inbox
) -> None:
    response = ask_reset(Client(), "nobody@example.com")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:password-reset-done")
    assert inbox.messages == []


def test_without_email_the_page_says_so_sends_nothing_and_logs_no_link(
    member: Membership,
    public_url: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    mailoutbox: list[Any],
) -> None:
    client = Client()
    with caplog.at_level(logging.DEBUG):
        page = client.get(reverse("web:password-reset"))
        response = ask_reset(client, member.user.email)
        done = client.get(reverse("web:password-reset-done"))
    assert page.status_code == 200
    assert "E-mail is not configured" in page.content.decode()
    assert 'name="email"' not in page.content.decode()  # no form that pretends to send
    assert response.status_code == 200
    assert "E-mail is not configured" in response.content.decode()
    assert "Check your e-mail" not in response.content.decode()
    # Nobody is told to check their e-mail: the "sent" page leads back to the explanation.
    assert done.status_code == 302 and done["Location"] == reverse("web:password-reset")
    assert mailoutbox == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not ANY_RESET_LINK.search(logged) and member.user.email not in logged
    printed = capsys.readouterr()
    assert not ANY_RESET_LINK.search(printed.out + printed.err)


def test_the_settings_without_email_have_no_backend_that_prints(settings: Any) -> None:
    from pulseboard.config.settings import email_settings

    # What PULSEBOARD_EMAIL_URL unset gives the running server (tests swap in locmem).
    assert email_settings(None) == {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}


def test_a_mail_server_that_is_down_is_reported_not_hidden(
    member: Membership, settings: Any, public_url: None, caplog: pytest.LogCaptureFixture
) -> None:
    mail_settings_apply(settings, f"smtp://127.0.0.1:{free_port()}")  # nothing listens
    with caplog.at_level(logging.DEBUG):
        response = ask_reset(Client(), member.user.email)
    assert response.status_code == 503
    page = response.content.decode()
    assert "could not be sent" in page and "Check your e-mail" not in page
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "was not sent" in logged
    assert not ANY_RESET_LINK.search(logged)


def test_a_mail_server_that_refuses_the_password_is_reported(
    member: Membership, settings: Any, public_url: None
) -> None:
    with smtp_server(credentials=("mailer", "right")) as server:
        mail_settings_apply(settings, server.url(user="mailer", password="wrong"))
        response = ask_reset(Client(), member.user.email)
    assert response.status_code == 503
    assert server.messages == []


@pytest.mark.parametrize("security", ["starttls", "implicit"])
def test_tls_mail_servers_are_verified_against_the_configured_ca(
    member: Membership, settings: Any, public_url: None, tmp_path: Path, security: Any
) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with smtp_server(security=security, credentials=("mailer", "pw"), ca=ca) as server:
        mail_settings_apply(settings, server.url(user="mailer", password="pw"))
        # Without the CA the server's certificate is not trusted: nothing is sent.
        assert ask_reset(Client(), member.user.email).status_code == 503
        settings.PULSEBOARD = {**settings.PULSEBOARD, "CA_BUNDLE": str(bundle)}
        assert ask_reset(Client(), member.user.email).status_code == 302
    assert server.logins == [("mailer", "pw")]
    server.link(RESET_LINK)


def test_resets_for_one_address_are_throttled_from_any_client(
    member: Membership, inbox: Inbox
) -> None:
    for number in range(RESETS_PER_EMAIL):
        client = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        assert ask_reset(client, member.user.email).status_code == 302
    refused = ask_reset(Client(REMOTE_ADDR="198.51.100.99"), member.user.email.upper())
    assert refused.status_code == 429
    assert "Too many password-reset requests" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= WINDOW.total_seconds()
    assert len(inbox.messages) == RESETS_PER_EMAIL


def test_one_client_is_throttled_across_addresses_whether_or_not_they_exist(
    member: Membership, inbox: Inbox
) -> None:
    client = Client(REMOTE_ADDR="203.0.113.5")
    for number in range(RESETS_PER_CLIENT):
        assert ask_reset(client, f"probe{number}@example.com").status_code == 302
    assert ask_reset(client, member.user.email).status_code == 429
    assert inbox.messages == []
    # Another client is not affected, and the throttled one may ask again later.
    assert ask_reset(Client(REMOTE_ADDR="203.0.113.6"), member.user.email).status_code == 302
    with time_machine.travel(clock.now() + WINDOW + timedelta(seconds=1), tick=False):
        assert ask_reset(client, member.user.email).status_code == 302


def test_the_client_throttle_counts_the_real_client_behind_a_trusted_proxy(
    member: Membership, inbox: Inbox, settings: Any
) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "TRUSTED_PROXIES": "10.0.0.0/8"}
    via_proxy = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5")
    for number in range(RESETS_PER_CLIENT):
        assert ask_reset(via_proxy, f"probe{number}@example.com").status_code == 302
    assert ask_reset(via_proxy, member.user.email).status_code == 429
    # The proxy's other clients are other clients, not one shared counter.
    neighbour = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.77")
    assert ask_reset(neighbour, member.user.email).status_code == 302


def test_an_untrusted_client_cannot_escape_the_throttle_with_forwarded_for(
    member: Membership, inbox: Inbox
) -> None:
    for number in range(RESETS_PER_CLIENT):
        spoofing = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
        assert ask_reset(spoofing, f"probe{number}@example.com").status_code == 302
    spoofing = Client(REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert ask_reset(spoofing, member.user.email).status_code == 429
