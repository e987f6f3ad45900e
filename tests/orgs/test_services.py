"""Membership writes: single-use expiring invites, role changes, removal, the last-admin rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, NotFound, ValidationFailed
from pulseboard.core.tokens import hash_token
from pulseboard.orgs.models import Invite, Membership, User
from pulseboard.orgs.services import (
    INVITE_LIFETIME,
    invite_accept,
    invite_revoke,
    member_invite,
    member_remove,
    member_role_change,
)

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-long-enough-passphrase"


def _admin() -> tuple[Membership, Actor]:
    admin = MembershipFactory(role="admin")
    return admin, Actor.for_user(admin.user)


def test_invite_stores_only_the_hash_and_expires_after_seven_days() -> None:
    admin, actor = _admin()
    invite, token = member_invite(org=admin.org, actor=actor, role="member")
    stored = Invite.objects.get(pk=invite.pk)
    assert stored.token_digest == hash_token(token)
    assert token not in str(Invite.objects.filter(pk=invite.pk).values().first())
    lifetime = stored.expires_at - clock.now()
    assert timedelta(days=7) - timedelta(seconds=5) < lifetime <= timedelta(days=7)
    event = AuditEvent.objects.get(action="member.invited")
    assert token not in str(event.after) and event.after["role"] == "member"


@pytest.mark.parametrize(
    ("role", "email", "field"),
    [("owner", "", "role"), ("", "", "role"), ("member", "not-an-address", "email")],
)
def test_invite_with_bad_input_is_refused_and_writes_nothing(
    role: str, email: str, field: str
) -> None:
    admin, actor = _admin()
    with pytest.raises(ValidationFailed) as caught:
        member_invite(org=admin.org, actor=actor, role=role, email=email)
    assert field in caught.value.errors
    assert not Invite.objects.exists()
    assert not AuditEvent.objects.filter(action="member.invited").exists()


def test_inviting_an_existing_member_by_email_is_a_conflict() -> None:
    admin, actor = _admin()
    member = MembershipFactory(org=admin.org)
    with pytest.raises(Conflict):
        member_invite(org=admin.org, actor=actor, role="member", email=member.user.email.upper())


def test_new_account_accepts_and_joins_with_the_invited_role() -> None:
    admin, actor = _admin()
    _, token = member_invite(org=admin.org, actor=actor, role="admin")
    membership = invite_accept(token=token, email="New@Example.com", password=NEW_PASSWORD)
    assert membership.org == admin.org and membership.role == "admin"
    user = User.objects.get(email="new@example.com")
    assert user.check_password(NEW_PASSWORD)
    invite = Invite.objects.get()
    assert invite.used_by == user and invite.used_at is not None
    assert AuditEvent.objects.filter(action="member.joined", target_id=str(user.pk)).exists()


def test_existing_user_accepts_into_a_second_org() -> None:
    admin, actor = _admin()
    elsewhere = MembershipFactory()
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    membership = invite_accept(token=token, user=elsewhere.user)
    assert membership.org == admin.org
    assert Membership.objects.filter(user=elsewhere.user).count() == 2


def test_an_invite_link_works_only_once() -> None:
    admin, actor = _admin()
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    invite_accept(token=token, email="first@example.com", password=NEW_PASSWORD)
    with pytest.raises(Conflict, match="already been used"):
        invite_accept(token=token, email="second@example.com", password=NEW_PASSWORD)
    assert not User.objects.filter(email="second@example.com").exists()


def test_an_expired_invite_is_refused() -> None:
    admin, actor = _admin()
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    later = clock.now() + INVITE_LIFETIME + timedelta(seconds=1)
    with time_machine.travel(later), pytest.raises(Conflict, match="expired"):
        invite_accept(token=token, email="late@example.com", password=NEW_PASSWORD)
    assert not User.objects.filter(email="late@example.com").exists()


@pytest.mark.parametrize("token", ["", "pbi_unknown", "x" * 500])
def test_an_unknown_token_is_not_found(token: str) -> None:
    with pytest.raises(NotFound):
        invite_accept(token=token, email="who@example.com", password=NEW_PASSWORD)


def test_an_invite_for_an_address_refuses_any_other_account() -> None:
    admin, actor = _admin()
    _, token = member_invite(org=admin.org, actor=actor, role="member", email="ana@example.com")
    with pytest.raises(ValidationFailed):
        invite_accept(token=token, email="bob@example.com", password=NEW_PASSWORD)
    with pytest.raises(ValidationFailed):
        invite_accept(token=token, user=UserFactory(email="carl@example.com"))
    assert Invite.objects.get().used_at is None
    invite_accept(token=token, email="ana@example.com", password=NEW_PASSWORD)


def test_a_weak_password_creates_no_account_and_keeps_the_invite() -> None:
    admin, actor = _admin()
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    with pytest.raises(ValidationFailed) as caught:
        invite_accept(token=token, email="weak@example.com", password="short")
    assert "password" in caught.value.errors
    assert not User.objects.filter(email="weak@example.com").exists()
    assert Invite.objects.get().used_at is None


def test_a_new_account_for_an_existing_address_must_log_in_instead() -> None:
    admin, actor = _admin()
    existing = UserFactory()
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    with pytest.raises(Conflict, match="log in"):
        invite_accept(token=token, email=existing.email, password=NEW_PASSWORD)
    assert existing.check_password(PASSWORD)


def test_a_member_accepting_again_is_a_conflict_and_the_invite_stays_unused() -> None:
    admin, actor = _admin()
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    with pytest.raises(Conflict):
        invite_accept(token=token, user=admin.user)
    assert Invite.objects.get().used_at is None


def test_a_revoked_invite_cannot_be_accepted() -> None:
    admin, actor = _admin()
    invite, token = member_invite(org=admin.org, actor=actor, role="member")
    invite_revoke(invite=invite, actor=actor)
    with pytest.raises(Conflict, match="expired"):
        invite_accept(token=token, email="x@example.com", password=NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="invite.revoked", target_id=invite.pk).exists()


def test_a_used_invite_cannot_be_revoked() -> None:
    admin, actor = _admin()
    invite, token = member_invite(org=admin.org, actor=actor, role="member")
    invite_accept(token=token, email="x@example.com", password=NEW_PASSWORD)
    with pytest.raises(Conflict):
        invite_revoke(invite=invite, actor=actor)


def test_role_change_is_audited_with_before_and_after() -> None:
    admin, actor = _admin()
    member = MembershipFactory(org=admin.org)
    member_role_change(membership=member, role="admin", actor=actor)
    assert Membership.objects.get(pk=member.pk).role == "admin"
    event = AuditEvent.objects.get(action="member.role_changed")
    assert (event.before, event.after) == ({"role": "member"}, {"role": "admin"})


def test_the_last_admin_cannot_be_demoted() -> None:
    admin, actor = _admin()
    MembershipFactory(org=admin.org)
    with pytest.raises(Conflict, match="last admin"):
        member_role_change(membership=admin, role="member", actor=actor)
    assert Membership.objects.get(pk=admin.pk).role == "admin"


def test_the_last_admin_cannot_be_removed() -> None:
    admin, actor = _admin()
    with pytest.raises(Conflict, match="last admin"):
        member_remove(membership=admin, actor=actor)
    assert Membership.objects.filter(pk=admin.pk).exists()


def test_an_admin_can_step_down_when_another_admin_remains() -> None:
    admin, actor = _admin()
    MembershipFactory(org=admin.org, role="admin")
    member_role_change(membership=admin, role="member", actor=actor)
    assert Membership.objects.get(pk=admin.pk).role == "member"


def test_admins_of_other_orgs_do_not_count_toward_the_last_admin_rule() -> None:
    admin, actor = _admin()
    MembershipFactory(user=admin.user, org=OrganizationFactory(), role="admin")
    MembershipFactory(org=OrganizationFactory(), role="admin")
    with pytest.raises(Conflict):
        member_remove(membership=admin, actor=actor)


def test_removing_a_member_deletes_the_membership_not_the_account() -> None:
    admin, actor = _admin()
    member = MembershipFactory(org=admin.org)
    member_remove(membership=member, actor=actor)
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert User.objects.filter(pk=member.user_id).exists()
    event = AuditEvent.objects.get(action="member.removed")
    assert event.target_label == member.user.email and event.before == {"role": "member"}


def test_changing_a_removed_membership_is_not_found() -> None:
    admin, actor = _admin()
    member = MembershipFactory(org=admin.org)
    member_remove(membership=member, actor=actor)
    with pytest.raises(NotFound):
        member_role_change(membership=member, role="admin", actor=actor)
