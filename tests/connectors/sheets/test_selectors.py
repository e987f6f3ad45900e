"""Reads of Google connections: only the user's own, in the org asked about."""

from __future__ import annotations

import pytest
from tests.factories import MembershipFactory

from pulseboard.connectors.models import GoogleConnection
from pulseboard.connectors.sheets.selectors import (
    connection_choices,
    connection_get_for_pull,
    connection_get_for_user,
    connection_list_for_user,
    connection_owner_is_member,
)
from pulseboard.core.errors import NotFound
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db


def connection(membership: Membership, email: str) -> GoogleConnection:
    return GoogleConnection.objects.create(
        org=membership.org, user=membership.user, google_email=email, access_token_encrypted="x"
    )


def test_a_user_sees_only_their_own_connections_in_the_org_asked_about() -> None:
    alice = MembershipFactory(role="admin")
    bob = MembershipFactory(org=alice.org, role="admin")
    alice_elsewhere = MembershipFactory(user=alice.user, role="admin")
    first = connection(alice, "alice@gmail.example")
    second = connection(alice, "")
    connection(bob, "bob@gmail.example")
    connection(alice_elsewhere, "alice@other.example")
    assert connection_choices(org_id=alice.org_id, user_id=alice.user_id) == (
        (first.pk, "alice@gmail.example"),
        (second.pk, f"Google account {second.pk[:6]}"),
    )
    assert connection_choices(org_id=alice.org_id, user_id=None) == ()
    listed = connection_list_for_user(org=alice.org, user=alice.user)
    assert [(c.pk, c.source_count) for c in listed] == [(first.pk, 0), (second.pk, 0)]  # type: ignore[attr-defined]
    assert connection_get_for_user(org=alice.org, user=alice.user, connection_id=first.pk) == first
    for org, user, connection_id in [
        (alice.org, bob.user, first.pk),
        (alice_elsewhere.org, alice.user, first.pk),
        (alice.org, alice.user, None),
        (alice.org, alice.user, ""),
    ]:
        with pytest.raises(NotFound):
            connection_get_for_user(org=org, user=user, connection_id=connection_id)


def test_the_pulls_read_is_scoped_to_the_org_and_notices_an_owner_who_left() -> None:
    alice = MembershipFactory(role="admin")
    other = MembershipFactory(role="admin")
    made = connection(alice, "alice@gmail.example")
    assert connection_get_for_pull(org_id=alice.org_id, connection_id=made.pk) == made
    assert connection_get_for_pull(org_id=other.org_id, connection_id=made.pk) is None
    assert connection_owner_is_member(made)
    Membership.objects.filter(pk=alice.pk).delete()
    assert not connection_owner_is_member(made)
