"""A KPI's owner and team through the API (DESIGN §13): ``owner_id`` / ``team_id`` read and
written on ``/kpis``, checked against the KPI's org (422, nothing written), audited, and
the ``?owner=`` / ``?team=`` filters of ``GET /kpis``; ``status_since`` reads back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.api_client import ApiClient
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory, UserFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.teams import team_create

pytestmark = pytest.mark.django_db
NPS = {"title": "NPS", "shape": "stay_above", "threshold": 35}
ACTOR = Actor.system("test")


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def admin(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "admin")


@pytest.fixture
def reader(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "read")


@pytest.fixture
def owner(org: Any) -> Any:
    return MembershipFactory(org=org).user


@pytest.fixture
def team(org: Any) -> Any:
    return team_create(org=org, actor=ACTOR, name="Growth")


def test_owner_and_team_are_written_and_read_back(admin: ApiClient, owner: Any, team: Any) -> None:
    created = admin.post("/kpis", {**NPS, "owner_id": owner.pk, "team_id": team.pk})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["owner_id"], body["team_id"]) == (owner.pk, team.pk)
    assert body["status_since"] is None
    event = AuditEvent.objects.get(action="kpi.created", target_id=body["id"])
    assert (event.after["owner_id"], event.after["team_id"]) == (owner.pk, team.pk)
    read = admin.get(f"/kpis/{body['id']}").json()
    assert (read["owner_id"], read["team_id"]) == (owner.pk, team.pk)


def test_patch_changes_and_clears_owner_and_team_with_an_audit_event(
    org: Any, admin: ApiClient, owner: Any, team: Any
) -> None:
    kpi = KpiFactory(org=org)
    patched = admin.patch(f"/kpis/{kpi.pk}", {"owner_id": owner.pk, "team_id": team.pk})
    assert patched.status_code == 200, patched.json()
    event = AuditEvent.objects.get(action="kpi.updated", target_id=kpi.pk)
    assert event.before == {"owner_id": None, "team_id": None}
    assert event.after == {"owner_id": owner.pk, "team_id": team.pk}
    # A PATCH without them keeps them.
    assert admin.patch(f"/kpis/{kpi.pk}", {"title": "Renamed"}).json()["owner_id"] == owner.pk
    cleared = admin.patch(f"/kpis/{kpi.pk}", {"owner_id": None, "team_id": None}).json()
    assert (cleared["owner_id"], cleared["team_id"]) == (None, None)


def test_status_since_reads_back_in_iso(org: Any, admin: ApiClient) -> None:
    since = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    kpi = KpiFactory(org=org, status="red", status_since=since)
    body = admin.get(f"/kpis/{kpi.pk}").json()
    assert datetime.fromisoformat(body["status_since"]) == since


def _owner_cases(org: Any) -> list[tuple[Any, str]]:
    return [
        (MembershipFactory().user_id, "does not name a member"),  # another org's member
        (UserFactory().pk, "does not name a member"),  # an account in no org
        (2**62, "does not name a member"),
        (0, "owner_id"),
        (-1, "owner_id"),
        ("7", "owner_id"),
        (True, "owner_id"),
        (1.5, "owner_id"),
    ]


def test_owners_outside_the_org_are_refused_on_create_and_nothing_is_written(
    org: Any, admin: ApiClient
) -> None:
    for owner_id, message in _owner_cases(org):
        response = admin.post("/kpis", {**NPS, "owner_id": owner_id})
        assert response.status_code == 422, (owner_id, response.json())
        assert message in response.json()["detail"]
    assert not Kpi.objects.filter(org=org).exists()
    assert not AuditEvent.objects.filter(action="kpi.created").exists()


def test_owners_outside_the_org_are_refused_on_patch_and_nothing_changes(
    org: Any, admin: ApiClient, owner: Any
) -> None:
    kpi = KpiFactory(org=org, owner=owner, title="Kept")
    for owner_id, _ in _owner_cases(org):
        response = admin.patch(f"/kpis/{kpi.pk}", {"owner_id": owner_id, "title": "Changed"})
        assert response.status_code == 422, (owner_id, response.json())
    kpi.refresh_from_db()
    assert (kpi.owner_id, kpi.title) == (owner.pk, "Kept")
    assert not AuditEvent.objects.filter(target_id=kpi.pk).exists()


@pytest.mark.parametrize("bad", ["theirs", "nosuchteam", "", "x" * 33, 5, "bad id!"])
def test_a_team_of_another_org_or_none_is_refused_and_nothing_is_written(
    org: Any, admin: ApiClient, bad: Any
) -> None:
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    team_id = theirs.pk if bad == "theirs" else bad
    kpi = KpiFactory(org=org)
    created = admin.post("/kpis", {**NPS, "team_id": team_id})
    assert created.status_code == 422 and created.json()["detail"]
    patched = admin.patch(f"/kpis/{kpi.pk}", {"team_id": team_id})
    assert patched.status_code == 422 and patched.json()["detail"]
    kpi.refresh_from_db()
    assert kpi.team_id is None
    assert list(Kpi.objects.filter(org=org)) == [kpi]


def test_list_filters_by_owner_and_by_team_id_or_slug(
    org: Any, admin: ApiClient, reader: ApiClient, owner: Any, team: Any
) -> None:
    mine = KpiFactory(org=org, owner=owner, title="Mine")
    in_team = KpiFactory(org=org, team=team, title="Team's")
    both = KpiFactory(org=org, owner=owner, team=team, title="Both")
    KpiFactory(org=org, title="Neither")
    KpiFactory(org=org, owner=owner, team=team, published=False, title="Draft")

    def titles(client: ApiClient, **params: Any) -> list[str]:
        response = client.get("/kpis", params)
        assert response.status_code == 200, response.json()
        return [k["title"] for k in response.json()]

    assert titles(reader, owner=owner.pk) == [mine.title, both.title]
    assert titles(reader, team=team.pk) == [in_team.title, both.title]
    assert titles(reader, team="growth") == [in_team.title, both.title]
    assert titles(reader, owner=owner.pk, team="growth") == [both.title]
    assert titles(admin, owner=owner.pk, team="growth", include="drafts") == ["Both", "Draft"]
    assert titles(reader, owner=MembershipFactory(org=org).user_id) == []


def test_list_filter_by_another_orgs_or_an_unknown_team_is_404(org: Any, reader: ApiClient) -> None:
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    KpiFactory(org=theirs.org, team=theirs, title="Their KPI")
    for key in (theirs.pk, theirs.slug, "nosuch", "x" * 60):
        response = reader.get("/kpis", {"team": key})
        assert response.status_code == 404, key
        assert "Their KPI" not in response.content.decode()


@pytest.mark.parametrize("params", [{"owner": "abc"}, {"owner": "0"}, {"team": "x" * 61}])
def test_malformed_filters_are_422(reader: ApiClient, params: dict[str, str]) -> None:
    response = reader.get("/kpis", params)
    assert response.status_code == 422 and response.json()["detail"]


def test_another_orgs_owner_filter_finds_nothing_of_theirs(org: Any, reader: ApiClient) -> None:
    stranger = MembershipFactory()
    KpiFactory(org=stranger.org, owner=stranger.user, title="Their KPI")
    response = reader.get("/kpis", {"owner": stranger.user_id})
    assert response.status_code == 200 and response.json() == []
