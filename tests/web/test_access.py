"""Who may open which web page: anonymous → login, member → 403 on admin pages,
another org's admin → 404 on this org's objects (and nothing changes), CSRF on every form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.orgs.services import member_invite, token_create

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    name: str
    method: str
    admin_only: bool
    obj: str | None = None  # URL parameter naming an object of the org
    data: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.method} {self.name}"


PAGES = [
    Page("web:home", "GET", admin_only=False),
    Page("web:kpi-detail", "GET", admin_only=False, obj="kpi_id"),
    Page("web:kpi-history-csv", "GET", admin_only=False, obj="kpi_id"),
    Page("web:settings-kpis", "GET", admin_only=True),
    Page("web:kpi-create", "GET", admin_only=True),
    Page("web:kpi-create", "POST", admin_only=True, data=(("title", "X"),)),
    Page("web:kpi-suggest", "POST", admin_only=True, data=(("title", "NPS above 35"),)),
    Page("web:kpi-preview", "POST", admin_only=True),
    Page("web:kpi-edit", "GET", admin_only=True, obj="kpi_id"),
    Page("web:kpi-edit", "POST", admin_only=True, obj="kpi_id", data=(("title", "Y"),)),
    Page("web:kpi-publish", "POST", admin_only=True, obj="kpi_id", data=(("published", "0"),)),
    Page("web:kpi-move", "POST", admin_only=True, obj="kpi_id", data=(("direction", "up"),)),
    Page("web:kpi-delete", "GET", admin_only=True, obj="kpi_id"),
    Page("web:kpi-delete", "POST", admin_only=True, obj="kpi_id"),
    Page("web:kpi-value", "GET", admin_only=True, obj="kpi_id"),
    Page("web:kpi-value", "POST", admin_only=True, obj="kpi_id", data=(("value", "5"),)),
    Page("web:members", "GET", admin_only=True),
    Page("web:member-invite", "POST", admin_only=True, data=(("role", "member"),)),
    Page(
        "web:member-role", "POST", admin_only=True, obj="membership_id", data=(("role", "admin"),)
    ),
    Page("web:member-remove", "GET", admin_only=True, obj="membership_id"),
    Page("web:member-remove", "POST", admin_only=True, obj="membership_id"),
    Page("web:invite-revoke", "POST", admin_only=True, obj="invite_id"),
    Page("web:tokens", "GET", admin_only=True),
    Page("web:token-create", "POST", admin_only=True, data=(("name", "n"), ("scope", "read"))),
    Page("web:token-revoke", "POST", admin_only=True, obj="token_id"),
    Page("web:audit", "GET", admin_only=True),
]


@pytest.fixture
def world() -> dict[str, Any]:
    admin = MembershipFactory(role="admin")
    actor = Actor.for_user(admin.user)
    member = MembershipFactory(org=admin.org)
    invite, _ = member_invite(org=admin.org, actor=actor, role="member")
    token, _ = token_create(org=admin.org, actor=actor, name="ci", scope="read")
    return {
        "admin": admin,
        "member": member,
        "other_admin": MembershipFactory(role="admin"),
        "kpi_id": KpiFactory(org=admin.org, title="Org A secret KPI").pk,
        "membership_id": member.pk,
        "invite_id": invite.pk,
        "token_id": token.pk,
    }


def _url(page: Page, world: dict[str, Any]) -> str:
    kwargs = {page.obj: world[page.obj]} if page.obj else {}
    return reverse(page.name, kwargs=kwargs)


def _request(client: Client, page: Page, world: dict[str, Any]) -> Any:
    url = _url(page, world)
    if page.method == "GET":
        return client.get(url)
    return client.post(url, dict(page.data))


def _client_for(membership: Membership | None) -> Client:
    client = Client()
    if membership is not None:
        client.force_login(membership.user)
    return client


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_anonymous_is_sent_to_login(page: Page, world: dict[str, Any]) -> None:
    response = _request(_client_for(None), page, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login") + "?next=")


@pytest.mark.parametrize("page", [p for p in PAGES if p.admin_only], ids=str)
def test_a_member_gets_403_on_admin_pages_and_nothing_changes(
    page: Page, world: dict[str, Any]
) -> None:
    events = AuditEvent.objects.count()
    response = _request(_client_for(world["member"]), page, world)
    assert response.status_code == 403
    assert AuditEvent.objects.count() == events
    assert Kpi.objects.filter(pk=world["kpi_id"]).exists()


@pytest.mark.parametrize("page", [p for p in PAGES if p.obj], ids=str)
def test_another_orgs_admin_gets_404_for_this_orgs_objects(
    page: Page, world: dict[str, Any]
) -> None:
    events = AuditEvent.objects.count()
    response = _request(_client_for(world["other_admin"]), page, world)
    assert response.status_code == 404
    assert b"Org A secret KPI" not in response.content
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("page", [p for p in PAGES if not p.obj and p.method == "GET"], ids=str)
def test_own_pages_open_for_the_right_role(page: Page, world: dict[str, Any]) -> None:
    assert _request(_client_for(world["admin"]), page, world).status_code == 200
    expected = 403 if page.admin_only else 200
    assert _request(_client_for(world["member"]), page, world).status_code == expected


def test_a_member_sees_published_kpi_detail_but_not_a_draft(world: dict[str, Any]) -> None:
    client = _client_for(world["member"])
    assert client.get(reverse("web:kpi-detail", args=[world["kpi_id"]])).status_code == 200
    draft = KpiFactory(org=world["admin"].org, published=False)
    assert client.get(reverse("web:kpi-detail", args=[draft.pk])).status_code == 404
    assert client.get(reverse("web:kpi-history-csv", args=[draft.pk])).status_code == 404
    admin = _client_for(world["admin"])
    assert admin.get(reverse("web:kpi-detail", args=[draft.pk])).status_code == 200


def test_a_user_without_an_org_is_told_to_ask_for_an_invite() -> None:
    lonely = MembershipFactory()
    user = lonely.user
    lonely.delete()
    client = Client()
    client.force_login(user)
    response = client.get(reverse("web:home"))
    assert response.status_code == 403
    assert b"invite" in response.content


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("web:kpi-create", {}), ("web:kpi-delete", {"kpi_id": "k"}), ("web:member-invite", {})],
)
def test_forms_refuse_a_post_without_a_csrf_token(
    name: str, kwargs: dict[str, str], world: dict[str, Any]
) -> None:
    if "kpi_id" in kwargs:
        kwargs = {"kpi_id": world["kpi_id"]}
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["admin"].user)
    assert client.post(reverse(name, kwargs=kwargs), {"title": "x"}).status_code == 403
    assert Kpi.objects.filter(pk=world["kpi_id"]).exists()


def test_pages_send_a_csp_without_inline_script_or_style(world: dict[str, Any]) -> None:
    response = _client_for(world["admin"]).get(reverse("web:home"))
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe" not in policy
    page = response.content.decode()
    assert "<script>" not in page and " style=" not in page and "<style" not in page
