"""Teams (DESIGN §13): services and ``GET/POST /teams``, ``PATCH/DELETE /teams/{id}``.

Names and slugs are checked before anything is written, slugs are unique per org (409),
every write is audited in its transaction, any token reads, admin tokens write, and
another org's team is a 404 like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from tests.api_client import ApiClient
from tests.factories import KpiFactory, MembershipFactory, ObjectiveFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import Conflict, NotFound, ValidationFailed
from pulseboard.orgs.models import Team
from pulseboard.orgs.teams import (
    member_default_board_set,
    team_create,
    team_delete,
    team_find,
    team_update,
)
from pulseboard.web.live import board_stamp, goals_stamp

pytestmark = pytest.mark.django_db
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


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- services -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Growth", "growth"),
        ("  Platform Ops  ", "platform-ops"),
        ("Sales & Marketing (EMEA)", "sales-marketing-emea"),
        ("Équipe données", "equipe-donnees"),
        ("x" * 120, "x" * 60),
    ],
)
def test_a_slug_is_made_from_the_name(org: Any, name: str, slug: str) -> None:
    team = team_create(org=org, actor=ACTOR, name=name)
    assert (team.name, team.slug) == (name.strip(), slug)


@pytest.mark.parametrize(
    ("name", "slug", "field"),
    [
        ("", None, "name"),
        ("   ", None, "name"),
        ("x" * 121, None, "name"),
        ("Line\nbreak", None, "name"),
        ("NUL\x00", None, "name"),
        (5, None, "name"),
        ("日本", None, "slug"),  # nothing to make a slug from: give one
        ("Growth", "Has Space", "slug"),
        ("Growth", "UPPER", "slug"),
        ("Growth", "-edge", "slug"),
        ("Growth", "double--hyphen", "slug"),
        ("Growth", "x" * 61, "slug"),
    ],
)
def test_bad_names_and_slugs_are_refused_and_nothing_is_written(
    org: Any, name: Any, slug: Any, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        team_create(org=org, actor=ACTOR, name=name, slug=slug)
    assert field in caught.value.errors
    assert not Team.objects.exists() and not _events("team.created")


def test_a_taken_slug_is_a_conflict_naming_the_team_given_or_made(org: Any) -> None:
    team_create(org=org, actor=ACTOR, name="Growth")
    with pytest.raises(Conflict, match="“Growth” already has the slug 'growth'"):
        team_create(org=org, actor=ACTOR, name="growth")
    with pytest.raises(Conflict):
        team_create(org=org, actor=ACTOR, name="Other", slug="growth")
    assert Team.objects.count() == 1 and len(_events("team.created")) == 1


def test_the_same_slug_in_another_org_is_fine(org: Any) -> None:
    team_create(org=org, actor=ACTOR, name="Growth")
    team_create(org=OrganizationFactory(), actor=ACTOR, name="Growth")
    assert Team.objects.filter(slug="growth").count() == 2


def test_renaming_keeps_the_slug_and_is_audited(org: Any) -> None:
    team = team_create(org=org, actor=ACTOR, name="Growth")
    team_update(team=team, actor=ACTOR, name="Growth team")
    team.refresh_from_db()
    assert (team.name, team.slug) == ("Growth team", "growth")
    (event,) = _events("team.updated")
    assert event.before == {"name": "Growth"} and event.after == {"name": "Growth team"}
    team_update(team=team, actor=ACTOR, name="Growth team")  # nothing new: no event
    assert len(_events("team.updated")) == 1


def test_a_slug_change_to_a_taken_one_is_a_conflict_and_changes_nothing(org: Any) -> None:
    team_create(org=org, actor=ACTOR, name="Growth")
    ops = team_create(org=org, actor=ACTOR, name="Ops")
    with pytest.raises(Conflict):
        team_update(team=ops, actor=ACTOR, name="Ops renamed", slug="growth")
    ops.refresh_from_db()
    assert (ops.name, ops.slug) == ("Ops", "ops") and not _events("team.updated")


def test_deleting_a_team_keeps_its_kpis_and_objectives_without_a_team(org: Any) -> None:
    team = team_create(org=org, actor=ACTOR, name="Growth")
    kpi = KpiFactory(org=org, team=team)
    objective = ObjectiveFactory(cycle__org=org, team=team)
    member = MembershipFactory(org=org, default_team=team)
    team_delete(team=team, actor=ACTOR)
    kpi.refresh_from_db()
    objective.refresh_from_db()
    member.refresh_from_db()
    assert kpi.team_id is None and objective.team_id is None and member.default_team_id is None
    (event,) = _events("team.deleted")
    assert event.before["kpi_ids"] == [kpi.pk] and event.before["objective_ids"] == [objective.pk]


def test_deleting_a_team_bumps_its_kpis_and_objectives_so_live_boards_redraw(org: Any) -> None:
    """The FK's SET NULL alone leaves updated_at, the live boards' change stamp, as it was."""
    with time_machine.travel(datetime(2025, 3, 1, 9, 0, tzinfo=UTC), tick=False):
        team = team_create(org=org, actor=ACTOR, name="Growth")
        kpi = KpiFactory(org=org, team=team)
        bystander = KpiFactory(org=org)
        objective = ObjectiveFactory(cycle__org=org, team=team)
        stamps = (board_stamp(org), goals_stamp(org))
    later = datetime(2025, 3, 1, 9, 5, tzinfo=UTC)
    with time_machine.travel(later, tick=False):
        team_delete(team=team, actor=ACTOR)
    for row in (kpi, bystander, objective):
        row.refresh_from_db()
    assert kpi.team_id is None and kpi.updated_at == later
    assert objective.team_id is None and objective.updated_at == later
    assert bystander.updated_at < later
    assert board_stamp(org) != stamps[0] and goals_stamp(org) != stamps[1]


def test_team_find_takes_an_id_or_a_slug_of_the_org_only(org: Any) -> None:
    team = team_create(org=org, actor=ACTOR, name="Growth")
    assert team_find(org=org, key=team.pk) == team
    assert team_find(org=org, key="growth") == team
    for key in ("nope", "", "x" * 500, "growth\x00", OrganizationFactory().slug):
        with pytest.raises(NotFound):
            team_find(org=org, key=key)
    with pytest.raises(NotFound):
        team_find(org=OrganizationFactory(), key=team.pk)


def test_the_default_board_is_set_audited_and_must_be_a_team_of_the_org(org: Any) -> None:
    membership = MembershipFactory(org=org)
    team = team_create(org=org, actor=ACTOR, name="Growth")
    member_default_board_set(membership=membership, team=team, actor=ACTOR)
    membership.refresh_from_db()
    assert membership.default_team_id == team.pk
    (event,) = _events("member.board_changed")
    assert event.after == {"default_team_id": team.pk}
    foreign = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    with pytest.raises(NotFound):
        member_default_board_set(membership=membership, team=foreign, actor=ACTOR)
    membership.refresh_from_db()
    assert membership.default_team_id == team.pk
    member_default_board_set(membership=membership, team=None, actor=ACTOR)
    membership.refresh_from_db()
    assert membership.default_team_id is None


# --- API ------------------------------------------------------------------------------------


def test_admin_creates_lists_renames_and_deletes_a_team(org: Any, admin: ApiClient) -> None:
    created = admin.post("/teams", {"name": "Growth"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Growth" and body["slug"] == "growth"
    given = admin.post("/teams", {"name": "Platform", "slug": "plat"}).json()
    assert given["slug"] == "plat"
    assert [t["slug"] for t in admin.get("/teams").json()] == ["growth", "plat"]
    renamed = admin.patch(f"/teams/{body['id']}", {"name": "Growth & Sales"})
    assert renamed.status_code == 200 and renamed.json()["slug"] == "growth"
    moved = admin.patch(f"/teams/{body['id']}", {"slug": "growth-sales"})
    assert moved.json()["slug"] == "growth-sales"
    assert admin.delete(f"/teams/{body['id']}").status_code == 204
    assert [t["slug"] for t in admin.get("/teams").json()] == ["plat"]
    actions = [e.action for e in AuditEvent.objects.filter(target_type="team").order_by("id")]
    assert actions == ["team.created"] * 2 + ["team.updated"] * 2 + ["team.deleted"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": ""}, 422),
        ({"name": "   "}, 422),
        ({"name": "x" * 121}, 422),
        ({"name": "ok", "slug": "Not A Slug"}, 422),
        ({"name": "ok", "slug": ""}, 201),  # empty: made from the name
        ({"name": "日本"}, 422),
        ({"slug": "ok"}, 422),
        ({"name": "ok", "extra": 1}, 422),
        ({"name": 5}, 422),
    ],
)
def test_bad_team_bodies_are_4xx_with_a_message_and_write_nothing(
    admin: ApiClient, body: dict[str, Any], status: int
) -> None:
    response = admin.post("/teams", body)
    assert response.status_code == status, response.json()
    if status != 201:
        assert response.json()["detail"]
        assert not Team.objects.exists() and not _events("team.created")


def test_a_duplicate_slug_is_409_with_a_message(org: Any, admin: ApiClient) -> None:
    first = admin.post("/teams", {"name": "Growth"}).json()
    again = admin.post("/teams", {"name": "Growth"})
    assert again.status_code == 409 and "growth" in again.json()["detail"]
    other = admin.post("/teams", {"name": "Ops"}).json()
    clash = admin.patch(f"/teams/{other['id']}", {"slug": first["slug"]})
    assert clash.status_code == 409
    assert Team.objects.get(pk=other["id"]).slug == "ops"
    empty = admin.patch(f"/teams/{other['id']}", {"name": ""})
    assert empty.status_code == 422 and Team.objects.get(pk=other["id"]).name == "Ops"


def test_read_tokens_list_teams_but_cannot_write(org: Any, reader: ApiClient) -> None:
    team = team_create(org=org, actor=ACTOR, name="Growth")
    assert [t["id"] for t in reader.get("/teams").json()] == [team.pk]
    assert reader.post("/teams", {"name": "Mine"}).status_code == 403
    assert reader.patch(f"/teams/{team.pk}", {"name": "Mine"}).status_code == 403
    assert reader.delete(f"/teams/{team.pk}").status_code == 403
    team.refresh_from_db()
    assert team.name == "Growth" and Team.objects.count() == 1


def test_another_orgs_team_is_404_and_never_listed(org: Any, admin: ApiClient) -> None:
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    assert admin.get("/teams").json() == []
    assert admin.patch(f"/teams/{theirs.pk}", {"name": "Ours"}).status_code == 404
    assert admin.delete(f"/teams/{theirs.pk}").status_code == 404
    assert admin.patch("/teams/not%20an%20id", {"name": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_teams_need_a_token(org: Any) -> None:
    assert ApiClient(None).get("/teams").status_code == 401
