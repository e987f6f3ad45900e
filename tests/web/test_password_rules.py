"""The password rules hold wherever a password is set on the web (issue 12, item 6).

Django's validators, the user included so a password like the e-mail address is refused:
a new account from an invite link (``test_invites.py``) and the password-reset form here.
The CLI's ``createadmin`` is in ``tests/test_cli.py``.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from tests.factories import PASSWORD, UserFactory

from pulseboard.orgs.models import User

pytestmark = pytest.mark.django_db


def _set_password_page(client: Client, user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    # Django swaps the token in the URL for one kept in the session, then redirects.
    response = client.get(reverse("web:password-reset-confirm", args=[uid, token]))
    assert response.status_code == 302
    return str(response["Location"])


@pytest.mark.parametrize(
    ("password", "said"),
    [
        ("grace.hopper@example.com", "too similar"),
        ("Grace.Hopper@Example.COM", "too similar"),
        ("password", "too common"),
        ("73049261835", "entirely numeric"),
        ("short", "too short"),
    ],
)
def test_a_reset_refuses_a_weak_password_and_keeps_the_old_one(password: str, said: str) -> None:
    user = UserFactory(email="grace.hopper@example.com")
    client = Client()
    url = _set_password_page(client, user)
    response = client.post(url, {"new_password1": password, "new_password2": password})
    assert response.status_code == 200 and said in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_reset_takes_a_good_password() -> None:
    user = UserFactory(email="grace.hopper@example.com")
    client = Client()
    url = _set_password_page(client, user)
    good = "compilers-and-moths"
    response = client.post(url, {"new_password1": good, "new_password2": good})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(good)
