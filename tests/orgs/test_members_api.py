"""``GET /members`` (DESIGN §13): admin tokens list their own org's members to pick owners;
removing a member clears what they owned, audited in the removal's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from tests.api_client import ApiClient
from tests.factories import (
    KeyResultFactory,
    KpiFactory,
    MembershipFactory,
    ObjectiveFactory,
    OrganizationFactory,
)

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.goals.models import KeyResult, Objective
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.member_hooks import register_member_removed
from pulseboard.orgs.models import Membership
from pulseboard.orgs.services import member_remove

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


def test_admin_token_lists_the_orgs_members_only(org: Any) -> None:
    admin = MembershipFactory(org=org, role="admin", user__email="ada@example.com")
    member = MembershipFactory(org=org, user__email="bob@example.com")
    MembershipFactory(user__email="stranger@example.com")  # another org's
    response = ApiClient.for_org(org, "admin").get("/members")
    assert response.status_code == 200
    assert response.json() == [
        {"user_id": admin.user_id, "email": "ada@example.com", "role": "admin"},
        {"user_id": member.user_id, "email": "bob@example.com", "role": "member"},
    ]


def test_read_tokens_and_no_token_cannot_list_members(org: Any) -> None:
    MembershipFactory(org=org, user__email="private@example.com")
    denied = ApiClient.for_org(org, "read").get("/members")
    assert denied.status_code == 403 and "private@example.com" not in denied.content.decode()
    assert ApiClient(None).get("/members").status_code == 401


def test_removing_a_member_clears_their_ownerships_with_audit_events(org: Any) -> None:
    MembershipFactory(org=org, role="admin")
    leaving = MembershipFactory(org=org)
    staying = MembershipFactory(org=org)
    owned = KpiFactory(org=org, owner=leaving.user)
    kept = KpiFactory(org=org, owner=staying.user)
    objective = ObjectiveFactory(cycle__org=org, owner=leaving.user)
    key_result = KeyResultFactory(objective=objective, owner=leaving.user)
    member_remove(membership=leaving, actor=ACTOR)
    assert Kpi.objects.get(pk=owned.pk).owner_id is None
    assert Kpi.objects.get(pk=kept.pk).owner_id == staying.user_id
    assert Objective.objects.get(pk=objective.pk).owner_id is None
    assert KeyResult.objects.get(pk=key_result.pk).owner_id is None
    cleared = {
        (e.action, e.target_id): (e.before, e.after)
        for e in AuditEvent.objects.filter(after={"owner_id": None})
    }
    user_id = leaving.user_id
    assert cleared == {
        ("kpi.updated", owned.pk): ({"owner_id": user_id}, {"owner_id": None}),
        ("objective.updated", objective.pk): ({"owner_id": user_id}, {"owner_id": None}),
        ("key_result.updated", key_result.pk): ({"owner_id": user_id}, {"owner_id": None}),
    }


def test_ownerships_in_another_org_stay_when_a_member_leaves_one_org(org: Any) -> None:
    MembershipFactory(org=org, role="admin")
    leaving = MembershipFactory(org=org)
    elsewhere = MembershipFactory(user=leaving.user)
    theirs = KpiFactory(org=elsewhere.org, owner=leaving.user)
    member_remove(membership=leaving, actor=ACTOR)
    assert Kpi.objects.get(pk=theirs.pk).owner_id == leaving.user_id


def test_a_failing_clear_leaves_the_membership_and_the_ownerships(org: Any) -> None:
    """One transaction: when a handler fails, the removal and every clearing roll back."""
    MembershipFactory(org=org, role="admin")
    leaving = MembershipFactory(org=org)
    owned = KpiFactory(org=org, owner=leaving.user)

    def refuse(*, org_id: int, user_id: int, actor: Actor) -> None:
        raise RuntimeError("handler failed")

    from pulseboard.orgs import member_hooks

    register_member_removed(refuse)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            member_remove(membership=leaving, actor=ACTOR)
    finally:
        member_hooks._handlers.remove(refuse)
    assert Membership.objects.filter(pk=leaving.pk).exists()
    assert Kpi.objects.get(pk=owned.pk).owner_id == leaving.user_id
    assert not AuditEvent.objects.filter(action="member.removed").exists()
