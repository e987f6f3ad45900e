"""Login with the e-mail address, logout, the password reset flow and session cookie settings."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from tests.factories import PASSWORD

from pulseboard.orgs.models import Membership, User

pytestmark = pytest.mark.django_db


def test_login_with_email_and_password_lands_on_home(member: Membership) -> None:
    client = Client()
    response = client.post(
        reverse("web:login"), {"username": member.user.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_a_wrong_password_is_refused_with_a_message(member: Membership) -> None:
    response = Client().post(
        reverse("web:login"), {"username": member.user.email, "password": "wrong"}
    )
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()


def test_login_returns_to_the_page_asked_for(member: Membership) -> None:
    client = Client()
    target = reverse("web:kpi-create")
    response = client.post(
        reverse("web:login") + f"?next={target}",
        {"username": member.user.email, "password": PASSWORD, "next": target},
    )
    assert response["Location"] == target


def test_logout_is_a_post_and_ends_the_session(member_client: Client) -> None:
    assert member_client.get(reverse("web:logout")).status_code == 405
    member_client.post(reverse("web:logout"))
    assert member_client.get(reverse("web:home")).status_code == 302


def test_password_reset_mails_a_link_on_the_public_url_that_sets_a_new_password(
    member: Membership, mailoutbox: list[Any], settings: Any
) -> None:
    settings.PULSEBOARD = {**settings.PULSEBOARD, "BASE_URL": "https://kpi.example.com"}
    client = Client(HTTP_HOST="evil.example.net")
    settings.ALLOWED_HOSTS = ["evil.example.net"]
    response = client.post(reverse("web:password-reset"), {"email": member.user.email})
    assert response["Location"] == reverse("web:password-reset-done")
    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    match = re.search(r"https://kpi\.example\.com(/password-reset/[^/\s]+/[^/\s]+/)", body)
    assert match is not None and "evil.example.net" not in body
    form_url = client.get(match.group(1)).url  # Django swaps the token for a session marker
    response = client.post(
        form_url,
        {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"},
    )
    assert response["Location"] == reverse("web:password-reset-complete")
    assert User.objects.get(pk=member.user_id).check_password("a-brand-new-passphrase")


def test_password_reset_does_not_reveal_whether_an_address_has_an_account(
    mailoutbox: list[Any],
) -> None:
    response = Client().post(reverse("web:password-reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("web:password-reset-done")
    assert mailoutbox == []


def test_a_bad_reset_link_says_so() -> None:
    body = Client().get(
        reverse("web:password-reset-confirm", args=["MQ", "bad-token"]), follow=True
    )
    assert "Link no longer valid" in body.content.decode()
