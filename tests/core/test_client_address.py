"""The client address and scheme behind proxies (DESIGN §15, issue 12 item 4).

Pure rule first (table-driven), then the request adapter and the middleware through
Django's full stack: an untrusted peer's forwarded headers change nothing, a trusted
proxy chain names the real client in the audit log and the login throttle.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from tests.factories import PASSWORD, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.client_address import (
    address_parse,
    client_address,
    client_ip,
    forwarded_scheme,
    networks_parse,
)
from pulseboard.orgs.login_throttle import MAX_FAILURES

PROXIES = networks_parse("10.0.0.0/8, 2001:db8:1::/48, 192.0.2.10")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        pytest.param("203.0.113.9", None, "203.0.113.9", id="direct-no-header"),
        pytest.param("203.0.113.9", "198.51.100.1", "203.0.113.9", id="untrusted-peer-ignored"),
        pytest.param("10.0.0.2", None, "10.0.0.2", id="proxy-without-header-is-the-client"),
        pytest.param("10.0.0.2", "198.51.100.1", "198.51.100.1", id="one-trusted-hop"),
        pytest.param(
            "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1", id="client-prepended-spoof"
        ),
        pytest.param(
            "10.0.0.2", "198.51.100.1, 10.9.9.9, 192.0.2.10", "198.51.100.1", id="proxy-chain"
        ),
        pytest.param("10.0.0.2", "10.1.1.1, 10.2.2.2", "10.1.1.1", id="all-trusted-leftmost"),
        pytest.param("10.0.0.2", "garbage", "10.0.0.2", id="garbled-hop-stops-at-proxy"),
        pytest.param(
            "10.0.0.2", "198.51.100.1, junk, 10.3.3.3", "10.3.3.3", id="garbled-mid-chain"
        ),
        pytest.param("10.0.0.2", "198.51.100.1:4711", "198.51.100.1", id="ipv4-with-port"),
        pytest.param(
            "2001:db8:1::5", "[2001:db8:ff::1]:443", "2001:db8:ff::1", id="ipv6-bracketed"
        ),
        pytest.param("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1", id="v4-mapped-peer"),
        pytest.param("", "198.51.100.1", None, id="no-peer"),
        pytest.param("not-an-ip", None, None, id="bad-peer"),
    ],
)
def test_the_client_is_the_rightmost_address_not_a_trusted_proxy(
    peer: str, forwarded_for: str | None, expected: str | None
) -> None:
    assert client_address(peer=peer, forwarded_for=forwarded_for, trusted=PROXIES) == expected


def test_with_no_trusted_proxies_forwarded_for_is_never_read() -> None:
    assert client_address(peer="127.0.0.1", forwarded_for="198.51.100.1", trusted=()) == (
        "127.0.0.1"
    )


@pytest.mark.parametrize(
    ("peer", "proto", "expected"),
    [
        ("10.0.0.2", "https", "https"),
        ("10.0.0.2", "HTTPS", "https"),
        ("10.0.0.2", "http", "http"),
        ("10.0.0.2", "https, http", "https"),
        ("10.0.0.2", "gopher", None),
        ("10.0.0.2", None, None),
        ("203.0.113.9", "https", None),
    ],
)
def test_only_a_trusted_proxy_reports_the_scheme(
    peer: str, proto: str | None, expected: str | None
) -> None:
    assert forwarded_scheme(peer=peer, forwarded_proto=proto, trusted=PROXIES) == expected


@pytest.mark.parametrize("text", ["10.0.0.0/33", "example.com", "10.0.0.0/8,,nope"])
def test_a_bad_network_is_named_in_the_error(text: str) -> None:
    with pytest.raises(ValueError, match="is not an IP network"):
        networks_parse(text)


def test_address_parse_accepts_the_forms_proxies_write() -> None:
    assert str(address_parse(" 198.51.100.1 ")) == "198.51.100.1"
    assert str(address_parse("[::1]:80")) == "::1"
    assert address_parse("unknown") is None


def test_the_adapter_uses_the_configured_proxies(settings: Any) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    settings.PULSEBOARD = {**settings.PULSEBOARD, "TRUSTED_PROXIES": "10.0.0.0/8"}
    assert client_ip(request) == "198.51.100.1"
    settings.PULSEBOARD = {**settings.PULSEBOARD, "TRUSTED_PROXIES": ""}
    assert client_ip(request) == "10.0.0.2"
    assert client_ip(None) is None


def test_by_default_only_loopback_is_a_trusted_proxy() -> None:
    spoofed = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    local = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert client_ip(spoofed) == "203.0.113.9"
    assert client_ip(local) == "198.51.100.1"


@pytest.mark.django_db
def test_x_forwarded_proto_makes_the_request_secure_only_from_a_trusted_proxy(
    settings: Any,
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.PULSEBOARD = {**settings.PULSEBOARD, "TRUSTED_PROXIES": "10.0.0.0/8"}
    trusted = Client(REMOTE_ADDR="10.0.0.2").get("/login/", headers={"x-forwarded-proto": "https"})
    spoofed = Client(REMOTE_ADDR="203.0.113.9").get(
        "/login/", headers={"x-forwarded-proto": "https"}
    )
    assert trusted.status_code == 200
    assert spoofed.status_code == 301 and spoofed["Location"].startswith("https://")


@pytest.fixture
def via_proxy(settings: Any) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "TRUSTED_PROXIES": "10.0.0.0/8"}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _token_create(client: Client) -> None:
    response = client.post(reverse("web:token-create"), {"name": "ci", "scope": "read"})
    assert response.status_code in (200, 302), response.content.decode()[:500]


@pytest.mark.django_db
def test_the_audit_log_records_the_real_client_behind_a_trusted_proxy(via_proxy: None) -> None:
    admin = MembershipFactory(role="admin")
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.23")
    client.force_login(admin.user)
    _token_create(client)
    assert AuditEvent.objects.get(org_id=admin.org_id).ip == "198.51.100.23"


@pytest.mark.django_db
def test_an_untrusted_peer_cannot_write_another_address_into_the_audit_log(
    via_proxy: None,
) -> None:
    admin = MembershipFactory(role="admin")
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.23")
    client.force_login(admin.user)
    _token_create(client)
    assert AuditEvent.objects.get(org_id=admin.org_id).ip == "203.0.113.9"


def _login(client: Client, email: str, password: str) -> int:
    return client.post(reverse("web:login"), {"username": email, "password": password}).status_code


@pytest.mark.django_db
def test_behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another(
    via_proxy: None,
) -> None:
    user = MembershipFactory().user
    attacker = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.66")
    for _ in range(MAX_FAILURES):
        assert _login(attacker, user.email, "wrong-guess") == 200
    owner = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert _login(owner, user.email, PASSWORD) == 302
    page = attacker.post(reverse("web:login"), {"username": user.email, "password": PASSWORD})
    assert "Too many failed log-in attempts" in page.content.decode()


@pytest.mark.django_db
def test_an_untrusted_peer_rotating_forwarded_for_stays_one_throttled_client(
    via_proxy: None,
) -> None:
    user = MembershipFactory().user
    for number in range(MAX_FAILURES):
        spoofing = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
        assert _login(spoofing, user.email, "wrong-guess") == 200
    spoofing = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99")
    page = spoofing.post(reverse("web:login"), {"username": user.email, "password": PASSWORD})
    assert "Too many failed log-in attempts" in page.content.decode()
