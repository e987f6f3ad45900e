"""Membership and invite reads: scoped to one org, pending invites only, lookup by link token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.factories import MembershipFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import NotFound
from pulseboard.orgs.selectors import (
    admin_count,
    invite_get,
    invite_get_by_token,
    invite_list_pending,
    membership_get_by_id,
)
from pulseboard.orgs.services import invite_accept, invite_revoke, member_invite

pytestmark = pytest.mark.django_db


def test_a_membership_is_found_only_in_its_own_org() -> None:
    mine = MembershipFactory()
    other = MembershipFactory()
    assert membership_get_by_id(org=mine.org, membership_id=mine.pk) == mine
    with pytest.raises(NotFound):
        membership_get_by_id(org=mine.org, membership_id=other.pk)


def test_pending_invites_leave_out_used_revoked_expired_and_foreign_ones() -> None:
    admin = MembershipFactory(role="admin")
    actor = Actor.for_user(admin.user)
    pending, _ = member_invite(org=admin.org, actor=actor, role="member")
    _, used_token = member_invite(org=admin.org, actor=actor, role="member")
    invite_accept(token=used_token, email="u@example.com", password="a-long-enough-passphrase")
    revoked, _ = member_invite(org=admin.org, actor=actor, role="member")
    invite_revoke(invite=revoked, actor=actor)
    member_invite(org=admin.org, actor=actor, role="member", lifetime=timedelta(seconds=1))
    member_invite(org=MembershipFactory().org, actor=actor, role="member")
    listed = invite_list_pending(org=admin.org, now=clock.now() + timedelta(seconds=2))
    assert list(listed) == [pending]


def test_an_invite_is_found_by_its_token_and_in_its_org_only() -> None:
    admin = MembershipFactory(role="admin")
    invite, token = member_invite(org=admin.org, actor=Actor.system(), role="admin")
    assert invite_get_by_token(token=token) == invite
    assert invite_get(org=admin.org, invite_id=invite.pk) == invite
    with pytest.raises(NotFound):
        invite_get(org=MembershipFactory().org, invite_id=invite.pk)
    for bad in ("", "pbi_nope", "x" * 201):
        with pytest.raises(NotFound):
            invite_get_by_token(token=bad)


def test_admin_count_counts_this_orgs_admins() -> None:
    admin = MembershipFactory(role="admin")
    MembershipFactory(org=admin.org, role="admin")
    MembershipFactory(org=admin.org)
    MembershipFactory(role="admin")
    assert admin_count(org=admin.org) == 2
