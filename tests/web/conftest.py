"""Web test kit: fast password hashing, an org with an admin and a member, signed-in clients."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from tests.factories import MembershipFactory

from pulseboard.orgs.models import Membership

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin(db: None) -> Membership:
    return MembershipFactory(role="admin")


@pytest.fixture
def member(admin: Membership) -> Membership:
    return MembershipFactory(org=admin.org)


@pytest.fixture
def admin_client(admin: Membership) -> Client:
    client = Client()
    client.force_login(admin.user)
    return client


@pytest.fixture
def member_client(member: Membership) -> Client:
    client = Client()
    client.force_login(member.user)
    return client
