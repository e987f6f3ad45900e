"""Teams on the web (DESIGN §13): team boards, the board switcher and default board, the
per-board "more than 8" note, Settings → Teams, and the owner/team fields of the KPI and
objective forms. Boards keep a constant number of queries whatever the number of KPIs."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import CycleFactory, KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.goals.models import Objective
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership, Team
from pulseboard.orgs.teams import team_create
from pulseboard.web.tiles import tile_cache_clear

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
KPI_FORM = {
    "title": "NPS",
    "shape": "stay_above",
    "threshold": "35",
    "baseline_mode": "fixed",
    "unit_type": "number",
    "display_format": "integer",
    "compare_period": "7d",
    "published": "on",
}


@pytest.fixture
def team(admin: Membership) -> Team:
    return team_create(org=admin.org, actor=ACTOR, name="Growth")


def _page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status
    return response.content.decode()


# --- team boards ----------------------------------------------------------------------------


def test_a_team_board_shows_its_published_kpis_in_home_order(
    member_client: Client, member: Membership, team: Team
) -> None:
    org = member.org
    KpiFactory(org=org, team=team, title="Second of team", position=5)
    KpiFactory(org=org, team=team, title="First of team", position=1)
    KpiFactory(org=org, team=team, title="Team draft", published=False)
    KpiFactory(org=org, title="Org only")
    page = _page(member_client, reverse("web:team-board", args=[team.slug]))
    assert page.index("First of team") < page.index("Second of team")
    assert "Team draft" not in page and "Org only" not in page
    assert 'id="live-board"' in page  # polled like Home


def test_the_org_board_still_shows_every_published_kpi(
    member_client: Client, member: Membership, team: Team
) -> None:
    KpiFactory(org=member.org, team=team, title="Team KPI")
    KpiFactory(org=member.org, title="Org KPI")
    page = _page(member_client, reverse("web:home"))
    assert "Team KPI" in page and "Org KPI" in page


def test_another_orgs_team_board_and_unknown_slugs_are_404(member_client: Client) -> None:
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    KpiFactory(org=theirs.org, team=theirs, title="Their secret KPI")
    for slug in (theirs.slug, "nosuch"):
        response = member_client.get(reverse("web:team-board", args=[slug]))
        assert response.status_code == 404
        assert "Their secret KPI" not in response.content.decode()


def test_team_boards_need_a_sign_in(team: Team) -> None:
    response = Client().get(reverse("web:team-board", args=[team.slug]))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("count", [3, 30])
def test_a_team_board_uses_a_constant_number_of_queries(
    member_client: Client,
    member: Membership,
    team: Team,
    count: int,
    django_assert_num_queries: Any,
) -> None:
    owner = MembershipFactory(org=member.org).user
    url = reverse("web:team-board", args=[team.slug])

    def fill(n: int) -> None:
        for i in range(n):
            KpiFactory(org=member.org, team=team, owner=owner if i % 2 else None)

    fill(1)
    member_client.get(url)  # warm the session and caches
    tile_cache_clear()  # measure the cold page: every tile built
    with CaptureQueriesContext(connection) as baseline:
        assert member_client.get(url).status_code == 200
    fill(count - 1)
    tile_cache_clear()  # measure the cold page: every tile built
    with django_assert_num_queries(len(baseline.captured_queries)):
        page = _page(member_client, url)
    assert page.count('class="tile ') == count


def test_home_with_a_team_as_default_uses_a_constant_number_of_queries(
    member_client: Client, member: Membership, team: Team, django_assert_num_queries: Any
) -> None:
    Membership.objects.filter(pk=member.pk).update(default_team=team)
    url = reverse("web:home")
    KpiFactory(org=member.org, team=team)
    member_client.get(url)
    tile_cache_clear()  # measure the cold page: every tile built
    with CaptureQueriesContext(connection) as baseline:
        member_client.get(url)
    for _ in range(29):
        KpiFactory(org=member.org, team=team)
    tile_cache_clear()  # measure the cold page: every tile built
    with django_assert_num_queries(len(baseline.captured_queries)):
        assert _page(member_client, url).count('class="tile ') == 30


# --- switcher, default board, note ------------------------------------------------------------


def test_home_and_team_boards_offer_the_board_switcher(
    member_client: Client, member: Membership, team: Team
) -> None:
    other = team_create(org=member.org, actor=ACTOR, name="Ops")
    team_create(org=OrganizationFactory(), actor=ACTOR, name="Foreign team")
    for url in (reverse("web:home"), reverse("web:team-board", args=[other.slug])):
        page = _page(member_client, url)
        assert 'aria-label="Boards"' in page
        assert reverse("web:team-board", args=[team.slug]) in page
        assert reverse("web:team-board", args=[other.slug]) in page
        assert "Foreign team" not in page
    assert 'aria-current="page">Ops' in _page(
        member_client, reverse("web:team-board", args=[other.slug])
    )


def test_no_switcher_without_teams(member_client: Client) -> None:
    assert 'aria-label="Boards"' not in _page(member_client, reverse("web:home"))


def test_home_opens_the_default_board_and_links_to_the_org_board(
    member_client: Client, member: Membership, team: Team
) -> None:
    KpiFactory(org=member.org, team=team, title="Team KPI")
    KpiFactory(org=member.org, title="Org KPI")
    response = member_client.post(reverse("web:profile-board"), {"board": team.pk})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.default_team_id == team.pk
    assert AuditEvent.objects.filter(action="member.board_changed").count() == 1
    page = _page(member_client, reverse("web:home"))
    assert "Team KPI" in page and "Org KPI" not in page
    assert 'href="/?board=org"' in page
    org_page = _page(member_client, reverse("web:home") + "?board=org")
    assert "Team KPI" in org_page and "Org KPI" in org_page
    member_client.post(reverse("web:profile-board"), {"board": ""})
    assert "Org KPI" in _page(member_client, reverse("web:home"))


def test_a_default_board_is_per_member(
    member_client: Client, admin_client: Client, member: Membership, team: Team
) -> None:
    KpiFactory(org=member.org, title="Org KPI")
    member_client.post(reverse("web:profile-board"), {"board": team.pk})
    assert "Org KPI" in _page(admin_client, reverse("web:home"))


def test_another_orgs_team_cannot_be_a_default_board(
    member_client: Client, member: Membership
) -> None:
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    response = member_client.post(reverse("web:profile-board"), {"board": theirs.pk})
    assert response.status_code == 422
    member.refresh_from_db()
    assert member.default_team_id is None
    assert not AuditEvent.objects.filter(action="member.board_changed").exists()
    page = _page(member_client, reverse("web:profile-board"))
    assert "Theirs" not in page


def test_the_more_than_8_note_is_per_board(
    admin_client: Client, admin: Membership, team: Team
) -> None:
    small = team_create(org=admin.org, actor=ACTOR, name="Small")
    for _ in range(9):
        KpiFactory(org=admin.org, team=team)
    for _ in range(2):
        KpiFactory(org=admin.org, team=small)
    note = "KPIs are published on this board"
    assert note in _page(admin_client, reverse("web:team-board", args=[team.slug]))
    assert note not in _page(admin_client, reverse("web:team-board", args=[small.slug]))
    assert "11 " + note in _page(admin_client, reverse("web:home"))


def test_members_do_not_get_the_admin_note(
    member_client: Client, member: Membership, team: Team
) -> None:
    for _ in range(9):
        KpiFactory(org=member.org, team=team)
    page = _page(member_client, reverse("web:team-board", args=[team.slug]))
    assert "KPIs are published on this board" not in page


# --- Settings → Teams ---------------------------------------------------------------------


def test_admin_creates_renames_and_deletes_teams(admin_client: Client, admin: Membership) -> None:
    response = admin_client.post(reverse("web:teams"), {"name": "Growth", "slug": ""})
    assert response.status_code == 302
    team = Team.objects.get(org=admin.org)
    assert team.slug == "growth"
    page = _page(admin_client, reverse("web:teams"))
    assert "/teams/growth/" in page
    renamed = admin_client.post(
        reverse("web:team-rename", args=[team.pk]), {"name": "Growth & Sales", "slug": "gs"}
    )
    assert renamed.status_code == 302
    team.refresh_from_db()
    assert (team.name, team.slug) == ("Growth & Sales", "gs")
    assert _page(admin_client, reverse("web:team-delete", args=[team.pk]))
    assert admin_client.post(reverse("web:team-delete", args=[team.pk])).status_code == 302
    assert not Team.objects.exists()
    actions = list(
        AuditEvent.objects.filter(target_type="team")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["team.created", "team.updated", "team.deleted"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"name": "", "slug": ""}, 422),
        ({"name": "   ", "slug": ""}, 422),
        ({"name": "x" * 121, "slug": ""}, 422),
        ({"name": "Fine", "slug": "Not a slug"}, 422),
        ({"name": "日本", "slug": ""}, 422),
        ({"name": "Growth", "slug": ""}, 409),  # the fixture's team has it
    ],
)
def test_bad_team_forms_come_back_with_a_message_and_write_nothing(
    admin_client: Client, team: Team, data: dict[str, str], status: int
) -> None:
    response = admin_client.post(reverse("web:teams"), data)
    assert response.status_code == status
    assert 'role="alert"' in response.content.decode() or "errorlist" in response.content.decode()
    assert list(Team.objects.all()) == [team]


def test_a_rename_to_a_taken_slug_or_empty_name_changes_nothing(
    admin_client: Client, admin: Membership, team: Team
) -> None:
    ops = team_create(org=admin.org, actor=ACTOR, name="Ops")
    taken = admin_client.post(
        reverse("web:team-rename", args=[ops.pk]), {"name": "Ops", "slug": team.slug}
    )
    assert taken.status_code == 409 and "already has the slug" in taken.content.decode()
    empty = admin_client.post(reverse("web:team-rename", args=[ops.pk]), {"name": "", "slug": ""})
    assert empty.status_code == 422
    ops.refresh_from_db()
    assert (ops.name, ops.slug) == ("Ops", "ops")
    assert not AuditEvent.objects.filter(action="team.updated").exists()


def test_members_cannot_manage_teams(member_client: Client, team: Team) -> None:
    assert member_client.get(reverse("web:teams")).status_code == 403
    assert member_client.post(reverse("web:teams"), {"name": "Mine"}).status_code == 403
    rename = member_client.post(reverse("web:team-rename", args=[team.pk]), {"name": "Mine"})
    assert rename.status_code == 403
    assert member_client.post(reverse("web:team-delete", args=[team.pk])).status_code == 403
    team.refresh_from_db()
    assert team.name == "Growth" and Team.objects.count() == 1


def test_another_orgs_team_is_404_in_settings(admin_client: Client) -> None:
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    assert admin_client.get(reverse("web:team-delete", args=[theirs.pk])).status_code == 404
    assert admin_client.post(reverse("web:team-delete", args=[theirs.pk])).status_code == 404
    rename = admin_client.post(reverse("web:team-rename", args=[theirs.pk]), {"name": "Ours"})
    assert rename.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert "Theirs" not in _page(admin_client, reverse("web:teams"))


def test_settings_nav_links_to_teams(admin_client: Client) -> None:
    assert reverse("web:teams") in _page(admin_client, reverse("web:home"))


# --- the owner and team fields of the forms ---------------------------------------------------


def test_the_kpi_form_offers_the_orgs_members_and_teams_only(
    admin_client: Client, admin: Membership, team: Team
) -> None:
    stranger = MembershipFactory(user__email="stranger@example.com")
    team_create(org=stranger.org, actor=ACTOR, name="Foreign team")
    form = admin_client.get(reverse("web:kpi-create")).context["form"]
    owners = dict(form["owner"].field.choices)
    teams = dict(form["team"].field.choices)
    assert str(admin.user_id) in owners and str(stranger.user_id) not in owners
    assert team.pk in teams and len(teams) == 2


def test_the_kpi_form_saves_owner_and_team(
    admin_client: Client, admin: Membership, member: Membership, team: Team
) -> None:
    data = {**KPI_FORM, "owner": str(member.user_id), "team": team.pk}
    response = admin_client.post(reverse("web:kpi-create"), data)
    assert response.status_code == 302
    kpi = Kpi.objects.get(org=admin.org)
    assert (kpi.owner_id, kpi.team_id) == (member.user_id, team.pk)
    edit = admin_client.get(reverse("web:kpi-edit", args=[kpi.pk])).context["form"]
    assert (edit.initial["owner"], edit.initial["team"]) == (str(member.user_id), team.pk)
    cleared = admin_client.post(
        reverse("web:kpi-edit", args=[kpi.pk]), {**KPI_FORM, "owner": "", "team": ""}
    )
    assert cleared.status_code == 302
    kpi.refresh_from_db()
    assert (kpi.owner_id, kpi.team_id) == (None, None)


def test_the_kpi_form_refuses_an_owner_or_team_of_another_org(
    admin_client: Client, admin: Membership
) -> None:
    stranger = MembershipFactory()
    theirs = team_create(org=stranger.org, actor=ACTOR, name="Theirs")
    for extra in ({"owner": str(stranger.user_id)}, {"team": theirs.pk}):
        response = admin_client.post(reverse("web:kpi-create"), {**KPI_FORM, **extra})
        assert response.status_code == 422
        assert "errorlist" in response.content.decode()
    assert not Kpi.objects.filter(org=admin.org).exists()


def test_the_objective_form_sets_and_refuses_teams(
    admin_client: Client, admin: Membership, team: Team
) -> None:
    cycle = CycleFactory(org=admin.org)
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    url = reverse("web:objective-create")
    assert team.pk in dict(admin_client.get(url).context["form"]["team"].field.choices)
    refused = admin_client.post(url, {"title": "T", "cycle": cycle.pk, "team": theirs.pk})
    assert refused.status_code == 422 and not Objective.objects.exists()
    saved = admin_client.post(url, {"title": "T", "cycle": cycle.pk, "team": team.pk})
    assert saved.status_code == 302
    objective = Objective.objects.get()
    assert objective.team_id == team.pk
    edit = admin_client.get(reverse("web:objective-edit", args=[objective.pk])).context["form"]
    assert edit.initial["team"] == team.pk


def test_live_polls_of_a_team_board_and_of_a_default_board_render_that_board(
    member_client: Client, member: Membership, team: Team
) -> None:
    KpiFactory(org=member.org, team=team, title="Team KPI")
    KpiFactory(org=member.org, title="Org KPI")
    poll = member_client.get(reverse("web:live-team-board", args=[team.slug]))
    assert poll.status_code == 200 and poll["ETag"]
    body = poll.content.decode()
    assert 'id="live-board"' in body and "Team KPI" in body and "Org KPI" not in body
    assert "<html" not in body  # only the board partial
    again = member_client.get(
        reverse("web:live-team-board", args=[team.slug]), headers={"If-None-Match": poll["ETag"]}
    )
    assert again.status_code == 304
    Membership.objects.filter(pk=member.pk).update(default_team=team)
    home_poll = member_client.get(reverse("web:live-home")).content.decode()
    assert "Team KPI" in home_poll and "Org KPI" not in home_poll
    theirs = team_create(org=OrganizationFactory(), actor=ACTOR, name="Theirs")
    assert member_client.get(reverse("web:live-team-board", args=[theirs.slug])).status_code == 404
