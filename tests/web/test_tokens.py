"""Settings → API tokens: list, create (shown once, works at the API), revoke."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import MembershipFactory

from pulseboard.core.actors import Actor
from pulseboard.core.tokens import hash_token
from pulseboard.orgs.models import ApiToken, Membership
from pulseboard.orgs.services import token_create

pytestmark = pytest.mark.django_db


def test_a_new_token_is_shown_once_and_works_at_the_api(
    admin_client: Client, admin: Membership
) -> None:
    response = admin_client.post(reverse("web:token-create"), {"name": "CI", "scope": "read"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    match = re.search(
        r'id="new-token" type="text" readonly value="([^"]+)"', response.content.decode()
    )
    assert match is not None
    plaintext = match.group(1)
    token = ApiToken.objects.get(org=admin.org)
    assert token.token_digest == hash_token(plaintext) and token.scope == "read"
    api = Client().get("/api/v1/kpis", headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 200
    later = admin_client.get(reverse("web:tokens")).content.decode()
    assert plaintext not in later and token.prefix in later


def test_a_bad_token_form_writes_nothing(admin_client: Client) -> None:
    response = admin_client.post(reverse("web:token-create"), {"name": "", "scope": "root"})
    assert response.status_code == 422 and not ApiToken.objects.exists()


def test_revoke_stops_the_token(admin_client: Client, admin: Membership) -> None:
    token, plaintext = token_create(org=admin.org, actor=Actor.system(), name="old", scope="read")
    response = admin_client.post(reverse("web:token-revoke", args=[token.pk]), follow=True)
    assert "Revoked “old”" in response.content.decode()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    api = Client().get("/api/v1/kpis", headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 401
    again = admin_client.post(reverse("web:token-revoke", args=[token.pk]), follow=True)
    assert "already revoked" in again.content.decode()


def test_only_this_orgs_tokens_are_listed(admin_client: Client, admin: Membership) -> None:
    other = MembershipFactory(role="admin")
    token_create(org=other.org, actor=Actor.system(), name="theirs", scope="admin")
    token_create(org=admin.org, actor=Actor.system(), name="ours", scope="admin")
    body = admin_client.get(reverse("web:tokens")).content.decode()
    assert "ours" in body and "theirs" not in body
