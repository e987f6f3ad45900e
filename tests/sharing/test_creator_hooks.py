"""A share link ends with its creator's admin power (issue 15, like tokens and invites in
issue 12): demoted or removed, their active links are revoked, audited with the reason,
in the role change's transaction; nobody else's links, and nothing in other orgs."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import MembershipFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.orgs.models import Membership
from pulseboard.orgs.services import (
    DEMOTED,
    REMOVED,
    Revoked,
    member_remove,
    member_role_change,
)
from pulseboard.sharing import services as sharing_services
from pulseboard.sharing.models import ShareLink
from pulseboard.sharing.selectors import share_link_resolve
from pulseboard.sharing.services import share_link_create, share_link_revoke

pytestmark = pytest.mark.django_db


def _setup() -> tuple[Membership, Actor, dict[str, tuple[ShareLink, str]]]:
    """An admin about to lose power, another admin (the actor), and links of each and elsewhere."""
    org = OrganizationFactory()
    leaving = MembershipFactory(org=org, role="admin")
    other = MembershipFactory(org=org, role="admin")
    elsewhere = MembershipFactory(user=leaving.user, role="admin")
    MembershipFactory(org=elsewhere.org, role="admin")
    mine = Actor.for_user(leaving.user)
    made = {
        "lobby": share_link_create(org=org, actor=mine, name="Lobby"),
        "wiki": share_link_create(org=org, actor=mine, name="Wiki"),
        "others": share_link_create(org=org, actor=Actor.for_user(other.user), name="Theirs"),
        "elsewhere": share_link_create(org=elsewhere.org, actor=mine, name="Other org"),
    }
    old, _ = share_link_create(org=org, actor=mine, name="Old")
    share_link_revoke(link=old, actor=mine)
    return leaving, Actor.for_user(other.user), made


def _alive(made: dict[str, tuple[ShareLink, str]]) -> dict[str, bool]:
    now = clock.now()
    return {
        name: share_link_resolve(token=token, now=now) is not None
        for name, (_, token) in made.items()
    }


def test_demoting_an_admin_revokes_their_share_links_with_the_reason() -> None:
    leaving, actor, made = _setup()
    _, revoked = member_role_change(membership=leaving, role="member", actor=actor)
    assert revoked == Revoked(others=(("share link", 2),))
    assert _alive(made) == {"lobby": False, "wiki": False, "others": True, "elsewhere": True}
    events = AuditEvent.objects.filter(action="share_link.revoked", org=leaving.org)
    assert {e.target_id for e in events if e.after.get("reason")} == {
        made["lobby"][0].pk,
        made["wiki"][0].pk,
    }
    demotion = [e for e in events if e.after.get("reason")]
    assert all(e.after["reason"] == DEMOTED and e.actor_id == actor.id for e in demotion)


def test_removing_a_member_revokes_their_share_links() -> None:
    leaving, actor, made = _setup()
    assert member_remove(membership=leaving, actor=actor) == Revoked(others=(("share link", 2),))
    assert _alive(made) == {"lobby": False, "wiki": False, "others": True, "elsewhere": True}
    reasons = AuditEvent.objects.filter(
        action="share_link.revoked", org=leaving.org, after__reason=REMOVED
    )
    assert reasons.count() == 2


def test_a_demoted_member_later_removed_has_nothing_left_to_revoke() -> None:
    leaving, actor, _ = _setup()
    member_role_change(membership=leaving, role="member", actor=actor)
    assert member_remove(membership=leaving, actor=actor) == Revoked()
    assert AuditEvent.objects.filter(after__reason=REMOVED).count() == 0


def test_promotion_and_no_change_revoke_no_link() -> None:
    leaving, actor, made = _setup()
    assert member_role_change(membership=leaving, role="admin", actor=actor)[1] == Revoked()
    assert all(_alive(made).values())


def test_the_revocations_share_the_demotions_transaction(monkeypatch: Any) -> None:
    """If auditing a link's revocation fails, the demotion and every revocation roll back."""
    leaving, actor, made = _setup()
    real = sharing_services.audit_record_of

    def failing(*args: Any, **kwargs: Any) -> None:
        if args[0].pk == made["wiki"][0].pk:
            raise RuntimeError("audit down")
        real(*args, **kwargs)

    monkeypatch.setattr(sharing_services, "audit_record_of", failing)
    with pytest.raises(RuntimeError):
        member_role_change(membership=leaving, role="member", actor=actor)
    assert Membership.objects.get(pk=leaving.pk).role == "admin"
    assert all(_alive(made).values())
    assert not AuditEvent.objects.filter(action="member.role_changed").exists()
