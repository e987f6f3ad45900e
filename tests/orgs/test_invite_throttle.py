"""Invite acceptance throttle: per client and per link, counted even when refused, hashed keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from tests.factories import MembershipFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import NotFound, ValidationFailed
from pulseboard.orgs.invite_throttle import (
    ATTEMPTS_PER_CLIENT,
    ATTEMPTS_PER_INVITE,
    InviteThrottled,
    accept_keys,
)
from pulseboard.orgs.login_throttle import throttle_key
from pulseboard.orgs.models import LoginFailureWindow, Membership, User
from pulseboard.orgs.services import invite_accept, member_invite

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-enough-passphrase"


def _link() -> str:
    admin = MembershipFactory(role="admin")
    return member_invite(org=admin.org, actor=Actor.for_user(admin.user), role="member")[1]


def test_refused_attempts_count_and_the_next_one_is_refused_before_any_check() -> None:
    token = _link()
    for n in range(ATTEMPTS_PER_INVITE):
        with pytest.raises(ValidationFailed):
            invite_accept(token=token, email="x@example.com", password="short", ip=f"10.0.0.{n}")
    with pytest.raises(InviteThrottled) as caught:
        invite_accept(token=token, email="ok@example.com", password=NEW_PASSWORD, ip="10.9.9.9")
    assert caught.value.status == 429 and 0 < caught.value.retry_after <= 15 * 60
    assert not User.objects.filter(email="ok@example.com").exists()
    with time_machine.travel(clock.now() + timedelta(minutes=16)):
        invite_accept(token=token, email="ok@example.com", password=NEW_PASSWORD, ip="10.9.9.9")


def test_a_client_over_its_limit_is_refused_on_every_link_even_unknown_ones() -> None:
    for n in range(ATTEMPTS_PER_CLIENT):
        with pytest.raises(NotFound):  # an unknown link counts against the client too
            invite_accept(token=f"pbi_guess{n}", email="x@example.com", password="x", ip="10.1.1.1")
    with pytest.raises(InviteThrottled):
        invite_accept(token=_link(), email="ok@example.com", password=NEW_PASSWORD, ip="10.1.1.1")
    signed_in = MembershipFactory().user
    with pytest.raises(InviteThrottled):  # a signed-in join from that client too
        invite_accept(token=_link(), user=signed_in, ip="10.1.1.1")
    assert Membership.objects.filter(user=signed_in).count() == 1


def test_the_stored_keys_hold_neither_address_nor_token_and_differ_from_login_keys() -> None:
    token = _link()
    with pytest.raises(ValidationFailed):
        invite_accept(token=token, email="x@example.com", password="short", ip="192.0.2.7")
    keys = set(LoginFailureWindow.objects.values_list("key", flat=True))
    assert keys == set(accept_keys(token=token, ip="192.0.2.7"))
    assert all("192.0.2.7" not in key and token not in key for key in keys)
    assert throttle_key(email="", ip="192.0.2.7") not in keys
