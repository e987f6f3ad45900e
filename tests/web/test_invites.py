"""Accepting an invite link: new account, signed-in user, used, expired and unknown links; the
same answer whether an address has an account; throttled per link and per client."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from tests.factories import PASSWORD, MembershipFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.orgs.invite_throttle import ATTEMPTS_PER_CLIENT, ATTEMPTS_PER_INVITE
from pulseboard.orgs.middleware import SESSION_KEY
from pulseboard.orgs.models import Membership, User
from pulseboard.orgs.services import INVITE_LIFETIME, member_invite

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-enough-passphrase"


def link(admin: Membership, *, email: str = "", role: str = "member") -> str:
    _, token = member_invite(org=admin.org, actor=Actor.system(), role=role, email=email)
    return reverse("web:invite-accept", args=[token])


def test_the_link_page_names_the_org_and_role_and_is_not_cached(admin: Membership) -> None:
    response = Client().get(link(admin, role="admin"))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"Join {admin.org.name}" in body and "<strong>admin</strong>" in body
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_a_new_account_joins_and_lands_on_home_logged_in(admin: Membership) -> None:
    client = Client()
    response = client.post(link(admin), {"email": "new@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    user = User.objects.get(email="new@example.com")
    assert Membership.objects.get(user=user).org == admin.org
    assert client.session[SESSION_KEY] == admin.org.pk
    assert client.get(reverse("web:home")).status_code == 200


def test_a_signed_in_user_joins_a_second_org_and_switches_to_it(admin: Membership) -> None:
    elsewhere = MembershipFactory()
    client = Client()
    client.force_login(elsewhere.user)
    url = link(admin)
    assert "You are logged in as" in client.get(url).content.decode()
    client.post(url)
    assert client.session[SESSION_KEY] == admin.org.pk
    assert admin.org.name in client.get(reverse("web:home")).content.decode()


def test_a_weak_password_shows_the_error_and_keeps_the_link(admin: Membership) -> None:
    url = link(admin)
    client = Client()
    response = client.post(url, {"email": "new@example.com", "password": "short"})
    assert response.status_code == 422 and "password" in response.context["form"].errors
    assert not User.objects.filter(email="new@example.com").exists()
    response = client.post(url, {"email": "new@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_an_existing_address_is_asked_to_log_in_first(
    admin: Membership, member: Membership
) -> None:
    outsider = MembershipFactory()
    response = Client().post(link(admin), {"email": outsider.user.email, "password": PASSWORD})
    assert response.status_code == 422 and "log in" in response.content.decode()
    assert not Membership.objects.filter(org=admin.org, user=outsider.user).exists()


def _answer(response: HttpResponse, address: str) -> tuple[int, str]:
    """What a probe sees: the status and the page, minus the one-time CSRF token and the
    address it typed (the form shows it back)."""
    body = re.sub(r"\b[A-Za-z0-9]{64}\b", "CSRF", response.content.decode())
    return response.status_code, body.replace(address, "ADDRESS")


@pytest.mark.parametrize("password", ["short", "password", "1234567890123", ""])
def test_a_refused_account_gets_the_same_page_whether_the_address_has_an_account(
    admin: Membership, password: str
) -> None:
    """Issue 12 item 5: probing with any invite link, even one's own org's, tells nothing."""
    prober = MembershipFactory(role="admin")  # an admin of another org, with their own links
    someone = MembershipFactory()  # has an account, in yet another org
    _, token = member_invite(org=prober.org, actor=Actor.system(), role="member")
    url = reverse("web:invite-accept", args=[token])
    answers = {
        _answer(Client().post(url, {"email": address, "password": password}), address)
        for address in (someone.user.email, "nobody@example.com")
    }
    assert len(answers) == 1, answers
    ((status, _),) = answers
    assert status == 422
    assert not User.objects.filter(email="nobody@example.com").exists()


def test_a_password_like_the_address_is_refused(admin: Membership) -> None:
    response = Client().post(
        link(admin), {"email": "grace.hopper@example.com", "password": "grace.hopper@example.com"}
    )
    assert response.status_code == 422 and "too similar" in response.content.decode()
    assert not User.objects.filter(email="grace.hopper@example.com").exists()


def test_acceptance_is_throttled_per_link_with_retry_after(admin: Membership) -> None:
    url = link(admin)
    for n in range(ATTEMPTS_PER_INVITE):
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")  # different clients, one link
        assert client.post(url, {"email": "x@example.com", "password": "short"}).status_code == 422
    response = Client(REMOTE_ADDR="198.51.100.200").post(
        url, {"email": "ok@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 429 and "Too many attempts" in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert not User.objects.filter(email="ok@example.com").exists()
    with time_machine.travel(clock.now() + timedelta(minutes=16)):
        response = Client().post(url, {"email": "ok@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_acceptance_is_throttled_per_client_across_links(admin: Membership) -> None:
    prober = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(ATTEMPTS_PER_CLIENT):
        answer = prober.post(link(admin), {"email": "x@example.com", "password": "short"})
        assert answer.status_code == 422
    fresh = link(admin)
    assert prober.post(fresh, {"email": "y@example.com", "password": "short"}).status_code == 429
    # Someone else, on the same fresh link, is not held back by the prober.
    other = Client(REMOTE_ADDR="203.0.113.10")
    assert (
        other.post(fresh, {"email": "new@example.com", "password": NEW_PASSWORD}).status_code == 302
    )


def test_a_used_link_is_refused(admin: Membership) -> None:
    url = link(admin)
    Client().post(url, {"email": "first@example.com", "password": NEW_PASSWORD})
    response = Client().get(url)
    assert response.status_code == 410 and "already been used" in response.content.decode()
    response = Client().post(url, {"email": "second@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 410
    assert not User.objects.filter(email="second@example.com").exists()


def test_an_expired_link_is_refused(admin: Membership) -> None:
    url = link(admin)
    with time_machine.travel(clock.now() + INVITE_LIFETIME + timedelta(minutes=1)):
        response = Client().get(url)
    assert response.status_code == 410 and "expired" in response.content.decode()


@pytest.mark.parametrize("token", ["nope", "x" * 300])
def test_an_unknown_link_is_404(token: str) -> None:
    response = Client().get(reverse("web:invite-accept", args=[token]))
    assert response.status_code == 404 and "not valid" in response.content.decode()


def test_an_invite_for_one_address_refuses_another_signed_in_user(admin: Membership) -> None:
    other = MembershipFactory()
    client = Client()
    client.force_login(other.user)
    response = client.post(link(admin, email="ana@example.com"))
    assert response.status_code == 422 and "ana@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=other.user, org=admin.org).exists()
