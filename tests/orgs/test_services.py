"""Membership writes: single-use expiring invites, role changes, removal, the last-admin rule,
and the end of a lost admin's power (their tokens and pending invites)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core import clock
from pulseboard.core.actors import Actor, ActorKind
from pulseboard.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from pulseboard.core.tokens import hash_token
from pulseboard.orgs import services
from pulseboard.orgs.models import ApiToken, Invite, Membership, User
from pulseboard.orgs.services import (
    DEMOTED,
    EXISTING_ACCOUNT,
    INVITE_LIFETIME,
    REMOVED,
    Revoked,
    invite_accept,
    invite_revoke,
    member_invite,
    member_remove,
    member_role_change,
    token_authenticate,
    token_create,
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
    with pytest.raises(ValidationFailed, match="log in") as caught:
        invite_accept(token=token, email=existing.email, password=NEW_PASSWORD)
    assert caught.value.errors == {"email": EXISTING_ACCOUNT}
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
    assert Invite.objects.get().used_at is None
    assert not Membership.objects.filter(org=admin.org, user=existing).exists()


@pytest.mark.parametrize(
    ("password", "field"),
    [
        ("short", "password"),
        ("password", "password"),
        ("", "password"),
        ("12345678901", "password"),
    ],
)
def test_a_refused_new_account_says_the_same_whether_the_address_has_an_account_or_not(
    password: str, field: str
) -> None:
    """Issue 12 item 5: a probe with a bad password learns nothing about the address."""
    admin, actor = _admin()
    existing = MembershipFactory(org=OrganizationFactory()).user  # an account of another org
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    answers = []
    for address in (existing.email, "nobody-here@example.com"):
        with pytest.raises(DomainError) as caught:
            invite_accept(token=token, email=address, password=password)
        answers.append((type(caught.value), caught.value.status, caught.value.errors))
    assert answers[0] == answers[1]
    assert answers[0][1] == 422 and set(answers[0][2]) == {field}


def test_a_password_like_the_email_address_is_refused_for_a_new_account() -> None:
    admin, actor = _admin()
    _, token = member_invite(org=admin.org, actor=actor, role="member")
    with pytest.raises(ValidationFailed, match="similar") as caught:
        invite_accept(token=token, email="ana.lopez@example.com", password="ana.lopez@example.com")
    assert set(caught.value.errors) == {"password"}
    assert not User.objects.filter(email="ana.lopez@example.com").exists()


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


# --- Admin power ends with the admin (issue 12 item 2) ---------------------------------------


def _admin_with_creations() -> tuple[Membership, Actor, dict[str, Any]]:
    """An admin (with a second admin beside them) who minted tokens and sent invites."""
    leaving = MembershipFactory(role="admin")
    org = leaving.org
    staying = MembershipFactory(org=org, role="admin")
    mine = Actor.for_user(leaving.user)
    theirs = Actor.for_user(staying.user)
    made = {
        "admin_token": token_create(org=org, actor=mine, name="ci", scope="admin")[0],
        "read_token": token_create(org=org, actor=mine, name="dash", scope="read")[0],
        "admin_invite": member_invite(org=org, actor=mine, role="admin")[0],
        "member_invite": member_invite(org=org, actor=mine, role="member")[0],
        "others_token": token_create(org=org, actor=theirs, name="theirs", scope="admin")[0],
        "others_invite": member_invite(org=org, actor=theirs, role="admin")[0],
        "operator_token": token_create(org=org, actor=Actor.system(), name="ops", scope="admin")[0],
    }
    # The same person is an admin elsewhere too: that org's tokens are not this org's business.
    elsewhere = MembershipFactory(user=leaving.user, role="admin")
    made["elsewhere_token"] = token_create(
        org=elsewhere.org, actor=mine, name="other org", scope="admin"
    )[0]
    return leaving, theirs, made


def _state(made: dict[str, Any]) -> dict[str, bool]:
    """Which of the creations still work (token not revoked, invite still pending)."""
    now = clock.now()
    alive = {}
    for name, thing in made.items():
        thing.refresh_from_db()
        alive[name] = (
            thing.revoked_at is None if isinstance(thing, ApiToken) else thing.expires_at > now
        )
    return alive


def test_demoting_an_admin_revokes_their_admin_tokens_and_pending_invites() -> None:
    leaving, actor, made = _admin_with_creations()
    _, revoked = member_role_change(membership=leaving, role="member", actor=actor)
    assert revoked == Revoked(tokens=1, invites=2)
    assert _state(made) == {
        "admin_token": False,
        "read_token": True,  # a member reads everything a read token can
        "admin_invite": False,
        "member_invite": False,  # a member cannot invite: nothing they sent stays valid
        "others_token": True,
        "others_invite": True,
        "operator_token": True,
        "elsewhere_token": True,
    }
    events = AuditEvent.objects.filter(action__in=["token.revoked", "invite.revoked"])
    assert {(e.action, e.target_id) for e in events} == {
        ("token.revoked", made["admin_token"].pk),
        ("invite.revoked", made["admin_invite"].pk),
        ("invite.revoked", made["member_invite"].pk),
    }
    assert all(e.after == {"reason": DEMOTED} and e.actor_id == actor.id for e in events)


def test_removing_a_member_revokes_all_their_tokens_and_pending_invites() -> None:
    leaving, actor, made = _admin_with_creations()
    revoked = member_remove(membership=leaving, actor=actor)
    assert revoked == Revoked(tokens=2, invites=2)
    state = _state(made)
    assert [name for name, alive in state.items() if not alive] == [
        "admin_token",
        "read_token",
        "admin_invite",
        "member_invite",
    ]
    reasons = AuditEvent.objects.filter(action__in=["token.revoked", "invite.revoked"])
    assert {e.after["reason"] for e in reasons} == {REMOVED} and reasons.count() == 4


def test_a_demoted_member_who_is_later_removed_loses_the_read_tokens_too() -> None:
    leaving, actor, made = _admin_with_creations()
    member_role_change(membership=leaving, role="member", actor=actor)
    assert member_remove(membership=leaving, actor=actor) == Revoked(tokens=1, invites=0)
    assert not _state(made)["read_token"]


def test_promoting_and_no_change_revoke_nothing() -> None:
    leaving, actor, made = _admin_with_creations()
    assert member_role_change(membership=leaving, role="admin", actor=actor)[1] == Revoked()
    member = MembershipFactory(org=leaving.org)
    assert member_role_change(membership=member, role="admin", actor=actor)[1] == Revoked()
    assert all(_state(made).values())


def test_a_refused_demotion_revokes_nothing() -> None:
    admin, actor = _admin()
    token, _ = token_create(org=admin.org, actor=actor, name="ci", scope="admin")
    with pytest.raises(Conflict, match="last admin"):
        member_role_change(membership=admin, role="member", actor=actor)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_revocations_share_the_role_changes_transaction(monkeypatch: Any) -> None:
    """If auditing the last revocation fails, the demotion and every revocation roll back."""
    leaving, actor, made = _admin_with_creations()
    real = services.audit_record

    def failing(**kwargs: Any) -> None:
        if kwargs["action"] == "invite.revoked":
            raise RuntimeError("audit down")
        real(**kwargs)

    monkeypatch.setattr(services, "audit_record", failing)
    with pytest.raises(RuntimeError):
        member_role_change(membership=leaving, role="member", actor=actor)
    assert Membership.objects.get(pk=leaving.pk).role == "admin"
    assert all(_state(made).values())
    assert not AuditEvent.objects.filter(action="member.role_changed").exists()


def test_a_token_minted_by_a_token_answers_to_the_same_person() -> None:
    leaving, actor, made = _admin_with_creations()
    parent = made["admin_token"]
    as_token = Actor(kind=ActorKind.TOKEN, id=parent.pk, label=f"token:{parent.name}")
    child, _ = token_create(org=leaving.org, actor=as_token, name="child", scope="admin")
    assert child.created_by_id == leaving.user_id
    operator_child, _ = token_create(
        org=leaving.org,
        actor=Actor(kind=ActorKind.TOKEN, id=made["operator_token"].pk, label="token:ops"),
        name="operator child",
        scope="admin",
    )
    assert operator_child.created_by_id is None
    member_role_change(membership=leaving, role="member", actor=actor)
    child.refresh_from_db()
    operator_child.refresh_from_db()
    assert child.revoked_at is not None and operator_child.revoked_at is None


@pytest.mark.parametrize("scope", ["admin", "read"])
def test_a_token_never_acts_beyond_its_persons_current_role_even_unrevoked(scope: str) -> None:
    """Defence in depth: a row that slipped past revocation still does not authenticate."""
    leaving, _, _ = _admin_with_creations()
    token, plaintext = token_create(
        org=leaving.org, actor=Actor.for_user(leaving.user), name="slipped", scope=scope
    )
    assert token_authenticate(plaintext=plaintext) == token
    Membership.objects.filter(pk=leaving.pk).update(role="member")  # no revocation ran
    expected = None if scope == "admin" else token
    assert token_authenticate(plaintext=plaintext) == expected
    Membership.objects.filter(pk=leaving.pk).delete()
    assert token_authenticate(plaintext=plaintext) is None
    token.refresh_from_db()
    assert token.revoked_at is None  # refused by the check, not by a revocation


def test_an_operator_token_authenticates_whoever_leaves(django_assert_num_queries: Any) -> None:
    leaving, actor, _ = _admin_with_creations()
    _, plaintext = token_create(org=leaving.org, actor=Actor.system(), name="ops2", scope="admin")
    member_remove(membership=leaving, actor=actor)
    with django_assert_num_queries(2):  # the token with its person's role, then last_used_at
        assert token_authenticate(plaintext=plaintext) is not None


def test_an_invite_whose_creator_lost_admin_is_refused_even_unrevoked() -> None:
    leaving, _, _ = _admin_with_creations()
    _, token = member_invite(org=leaving.org, actor=Actor.for_user(leaving.user), role="admin")
    Membership.objects.filter(pk=leaving.pk).update(role="member")  # no revocation ran
    with pytest.raises(Conflict, match="no longer valid"):
        invite_accept(token=token, email="rejoin@example.com", password=NEW_PASSWORD)
    assert not User.objects.filter(email="rejoin@example.com").exists()
