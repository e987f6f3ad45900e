"""Token endpoints: shown once, stored hashed, scoped, revocable, admin only, own org only."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from tests.api_client import ApiClient
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.orgs.models import ApiToken
from pulseboard.orgs.services import (
    DEMOTED,
    REMOVED,
    member_remove,
    member_role_change,
    token_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def admin(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "admin")


def test_created_token_is_shown_once_and_stored_only_as_hash(org: Any, admin: ApiClient) -> None:
    response = admin.post("/tokens", {"name": "deploy", "scope": "read"})
    assert response.status_code == 201
    body = response.json()
    plaintext = body["token"]
    stored = ApiToken.objects.get(pk=body["id"], org=org)
    assert stored.token_digest == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.startswith(stored.prefix) and len(stored.prefix) < len(plaintext) // 3
    assert all(plaintext not in str(v) for v in ApiToken.objects.values_list())
    listed = admin.get("/tokens").json()
    assert all("token" not in item for item in listed)
    assert {item["id"] for item in listed} == {
        body["id"],
        org.api_tokens.exclude(pk=body["id"]).get().pk,
    }
    event = AuditEvent.objects.get(org=org, action="token.created", target_id=body["id"])
    assert plaintext not in str(event.after)


def test_new_token_works_with_its_scope(org: Any, admin: ApiClient) -> None:
    plaintext = admin.post("/tokens", {"name": "reader", "scope": "read"}).json()["token"]
    reader = ApiClient(plaintext)
    assert reader.get("/kpis").status_code == 200
    assert reader.get("/tokens").status_code == 403
    assert reader.post("/tokens", {"name": "escalate", "scope": "admin"}).status_code == 403


def test_list_shows_creator_last_use_and_revocation(org: Any, admin: ApiClient) -> None:
    member = MembershipFactory(org=org, role="admin").user
    token, plaintext = token_create(
        org=org, actor=Actor.for_user(member), name="from web", scope="read"
    )
    ApiClient(plaintext).get("/kpis")
    admin.delete(f"/tokens/{token.pk}")
    (item,) = [t for t in admin.get("/tokens").json() if t["id"] == token.pk]
    assert item["created_by"] == member.email and item["last_used_at"] is not None
    assert item["revoked_at"] is not None and item["active"] is False


def test_revoked_token_stops_working_at_once(org: Any, admin: ApiClient) -> None:
    created = admin.post("/tokens", {"name": "short-lived", "scope": "admin"}).json()
    other = ApiClient(created["token"])
    assert other.get("/kpis").status_code == 200
    assert admin.delete(f"/tokens/{created['id']}").status_code == 204
    assert other.get("/kpis").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoked", target_id=created["id"]).exists()
    assert admin.delete(f"/tokens/{created['id']}").status_code == 204  # idempotent


def test_token_may_revoke_itself(org: Any, admin: ApiClient) -> None:
    own = org.api_tokens.get()
    assert admin.delete(f"/tokens/{own.pk}").status_code == 204
    assert admin.get("/kpis").status_code == 401


def test_other_orgs_token_is_404_and_untouched(admin: ApiClient) -> None:
    foreign, _ = token_create(
        org=OrganizationFactory(), actor=Actor.system("t"), name="theirs", scope="admin"
    )
    assert admin.delete(f"/tokens/{foreign.pk}").status_code == 404
    assert admin.delete("/tokens/a%00b").status_code == 404
    foreign.refresh_from_db()
    assert foreign.is_active
    assert foreign.pk not in {t["id"] for t in admin.get("/tokens").json()}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "read"}, "name"),
        ({"name": "", "scope": "read"}, "name"),
        ({"name": "x" * 101, "scope": "read"}, "name"),
        ({"name": "x"}, "scope"),
        ({"name": "x", "scope": "root"}, "scope"),
        ({"name": "x", "scope": "read", "org": 2}, "org"),
        ({"name": "   ", "scope": "read"}, "name"),
    ],
)
def test_create_rejects_bad_input(
    org: Any, admin: ApiClient, body: dict[str, Any], field: str
) -> None:
    response = admin.post("/tokens", body)
    assert response.status_code == 422 and field in response.json()["errors"]
    assert org.api_tokens.count() == 1


def test_read_token_cannot_list_create_or_revoke(org: Any) -> None:
    reader = ApiClient.for_org(org, "read")
    own = org.api_tokens.get()
    assert reader.get("/tokens").status_code == 403
    assert reader.post("/tokens", {"name": "x", "scope": "read"}).status_code == 403
    assert reader.delete(f"/tokens/{own.pk}").status_code == 403
    own.refresh_from_db()
    assert own.is_active


def test_an_admins_tokens_stop_at_demotion_and_removal_chain_included(org: Any) -> None:
    """Issue 12 item 2: a demoted, then removed admin's tokens edit and mint nothing."""
    leaving = MembershipFactory(org=org, role="admin")
    staying = Actor.for_user(MembershipFactory(org=org, role="admin").user)
    kpi = KpiFactory(org=org, title="NPS")
    mine = Actor.for_user(leaving.user)
    admin_token = ApiClient(token_create(org=org, actor=mine, name="ci", scope="admin")[1])
    reader = ApiClient(token_create(org=org, actor=mine, name="tv", scope="read")[1])
    assert admin_token.patch(f"/kpis/{kpi.pk}", {"title": "NPS (edited)"}).status_code == 200
    minted = admin_token.post("/tokens", {"name": "child", "scope": "admin"})
    assert minted.status_code == 201
    child = ApiClient(minted.json()["token"])
    assert child.get("/tokens").status_code == 200

    member_role_change(membership=leaving, role="member", actor=staying)
    for client in (admin_token, child):
        assert client.patch(f"/kpis/{kpi.pk}", {"title": "hijack"}).status_code == 401
        assert client.post("/tokens", {"name": "again", "scope": "admin"}).status_code == 401
    assert reader.get(f"/kpis/{kpi.pk}").status_code == 200  # as the member still can
    assert reader.patch(f"/kpis/{kpi.pk}", {"title": "hijack"}).status_code == 403

    member_remove(membership=leaving, actor=staying)
    assert reader.get(f"/kpis/{kpi.pk}").status_code == 401
    kpi.refresh_from_db()
    assert kpi.title == "NPS (edited)"
    assert ApiToken.objects.filter(org=org, name="again").count() == 0
    reasons = AuditEvent.objects.filter(org=org, action="token.revoked").values_list(
        "target_label", "after"
    )
    assert sorted(reasons) == [
        ("child", {"reason": DEMOTED}),
        ("ci", {"reason": DEMOTED}),
        ("tv", {"reason": REMOVED}),
    ]
