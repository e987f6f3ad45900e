"""Settings → Members: list, invite link shown once, role change, removal, the last admin, and
what a demoted or removed admin's tokens and invite links can still do (nothing)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.api_client import ApiClient
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.tokens import hash_token
from pulseboard.orgs.models import Invite, Membership, User
from pulseboard.orgs.services import DEMOTED, REMOVED, member_invite
from pulseboard.sharing.services import share_link_create

pytestmark = pytest.mark.django_db


def test_the_page_lists_this_orgs_members_only(
    admin_client: Client, admin: Membership, member: Membership
) -> None:
    stranger = MembershipFactory()
    body = admin_client.get(reverse("web:members")).content.decode()
    assert admin.user.email in body and member.user.email in body
    assert stranger.user.email not in body


def test_an_invite_link_is_shown_once_and_stored_only_as_a_hash(
    admin_client: Client, admin: Membership
) -> None:
    response = admin_client.post(
        reverse("web:member-invite"), {"email": "new@example.com", "role": "member"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    match = re.search(r'value="(https?://[^"]+/invite/([^"/]+)/)"', body)
    assert match is not None
    token = match.group(2)
    assert Invite.objects.get().token_digest == hash_token(token)
    later = admin_client.get(reverse("web:members")).content.decode()
    assert token not in later and "new@example.com" in later  # pending, without its link


def test_a_bad_invite_form_shows_errors(admin_client: Client, member: Membership) -> None:
    response = admin_client.post(
        reverse("web:member-invite"), {"email": member.user.email, "role": "member"}
    )
    assert response.status_code == 422
    assert "already a member" in response.content.decode()
    response = admin_client.post(reverse("web:member-invite"), {"role": "owner"})
    assert response.status_code == 422 and not Invite.objects.exists()


def test_change_role(admin_client: Client, member: Membership) -> None:
    response = admin_client.post(
        reverse("web:member-role", args=[member.pk]), {"role": "admin"}, follow=True
    )
    assert Membership.objects.get(pk=member.pk).role == "admin"
    assert f"{member.user.email} is now admin" in response.content.decode()


def test_the_last_admin_cannot_be_demoted_or_removed(
    admin_client: Client, admin: Membership, member: Membership
) -> None:
    body = admin_client.get(reverse("web:members")).content.decode()
    assert "last admin" in body
    assert reverse("web:member-remove", args=[admin.pk]) not in body
    response = admin_client.post(
        reverse("web:member-role", args=[admin.pk]), {"role": "member"}, follow=True
    )
    assert "last admin" in response.content.decode()
    response = admin_client.post(reverse("web:member-remove", args=[admin.pk]), follow=True)
    assert "last admin" in response.content.decode()
    assert Membership.objects.get(pk=admin.pk).role == "admin"


def test_remove_asks_first_then_removes(admin_client: Client, member: Membership) -> None:
    url = reverse("web:member-remove", args=[member.pk])
    assert f"Remove {member.user.email}" in admin_client.get(url).content.decode()
    assert Membership.objects.filter(pk=member.pk).exists()
    response = admin_client.post(url, follow=True)
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert "Removed" in response.content.decode()


def test_a_removed_member_loses_access_at_once(
    admin_client: Client, member_client: Client, member: Membership
) -> None:
    admin_client.post(reverse("web:member-remove", args=[member.pk]))
    assert member_client.get(reverse("web:home")).status_code == 403


def test_an_admin_may_leave_when_another_admin_remains(
    admin_client: Client, admin: Membership
) -> None:
    MembershipFactory(org=admin.org, role="admin")
    response = admin_client.post(reverse("web:member-remove", args=[admin.pk]))
    assert response["Location"] == reverse("web:home")
    assert not Membership.objects.filter(pk=admin.pk).exists()


def test_revoking_an_invite_kills_its_link(admin_client: Client, admin: Membership) -> None:
    invite, token = member_invite(org=admin.org, actor=Actor.system(), role="member")
    admin_client.post(reverse("web:invite-revoke", args=[invite.pk]))
    response = Client().get(reverse("web:invite-accept", args=[token]))
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert "Anyone with the link" not in admin_client.get(reverse("web:members")).content.decode()


def _shown_once(response: Any, pattern: str) -> str:
    match = re.search(pattern, response.content.decode())
    assert match is not None
    return match.group(1)


def test_a_demoted_then_removed_admin_keeps_no_admin_power(
    admin_client: Client, admin: Membership
) -> None:
    """Issue 12 item 2, as reported: tokens and an invite link minted before the demotion."""
    leaving = MembershipFactory(org=admin.org, role="admin")
    kpi = KpiFactory(org=admin.org, title="NPS")
    theirs = Client()
    theirs.force_login(leaving.user)
    made = theirs.post(reverse("web:token-create"), {"name": "ci", "scope": "admin"})
    admin_token = _shown_once(made, r'id="new-token" type="text" readonly value="([^"]+)"')
    made = theirs.post(reverse("web:token-create"), {"name": "tv", "scope": "read"})
    read_token = _shown_once(made, r'id="new-token" type="text" readonly value="([^"]+)"')
    made = theirs.post(reverse("web:member-invite"), {"email": "", "role": "admin"})
    invite_path = _shown_once(made, r'value="https?://[^"/]+(/invite/[^"/]+/)"')
    as_admin = ApiClient(admin_token)
    assert as_admin.patch(f"/kpis/{kpi.pk}", {"title": "NPS!"}).status_code == 200

    response = admin_client.post(
        reverse("web:member-role", args=[leaving.pk]), {"role": "member"}, follow=True
    )
    assert "Revoked with it: 1 API token and 1 pending invite they created." in (
        response.content.decode()
    )
    assert as_admin.patch(f"/kpis/{kpi.pk}", {"title": "hijack"}).status_code == 401
    assert as_admin.post("/tokens", {"name": "x", "scope": "admin"}).status_code == 401
    assert ApiClient(read_token).get("/kpis").status_code == 200
    assert Client().get(invite_path).status_code == 410
    rejoin = Client().post(
        invite_path, {"email": "back@example.com", "password": "rejoin-as-admin-9"}
    )
    assert rejoin.status_code == 410 and not User.objects.filter(email="back@example.com").exists()

    response = admin_client.post(reverse("web:member-remove", args=[leaving.pk]), follow=True)
    assert "Revoked with it: 1 API token they created." in response.content.decode()
    assert ApiClient(read_token).get("/kpis").status_code == 401
    assert theirs.get(reverse("web:members")).status_code == 403
    events = AuditEvent.objects.filter(
        org=admin.org, action__in=["token.revoked", "invite.revoked"]
    )
    assert sorted((e.action, e.after["reason"]) for e in events) == [
        ("invite.revoked", DEMOTED),
        ("token.revoked", DEMOTED),
        ("token.revoked", REMOVED),
    ]
    assert all(e.actor_id == str(admin.user_id) for e in events)


def test_an_admin_who_leaves_is_told_what_was_revoked(
    admin_client: Client, admin: Membership
) -> None:
    MembershipFactory(org=admin.org, role="admin")
    member_invite(org=admin.org, actor=Actor.for_user(admin.user), role="member")
    response = admin_client.post(reverse("web:member-remove", args=[admin.pk]), follow=True)
    assert "Revoked with it: 1 pending invite you created." in response.content.decode()


def test_the_members_page_says_which_links_went(admin_client: Client, admin: Membership) -> None:
    leaving = MembershipFactory(org=admin.org, role="admin")
    KpiFactory(org=admin.org, published=True)
    _, token = share_link_create(org=admin.org, actor=Actor.for_user(leaving.user), name="Lobby")
    response = admin_client.post(
        reverse("web:member-role", args=[leaving.pk]), {"role": "member"}, follow=True
    )
    assert "Revoked with it: 1 share link they created." in response.content.decode()
    assert Client().get(f"/s/{token}/").status_code == 404
