"""Goals pages (web/views/goals.py): the board, details with chart and check-ins, the admins'
forms with their validation messages, the KPI page's block, permissions, tenancy and constant
query counts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import (
    CheckInFactory,
    CycleFactory,
    KeyResultFactory,
    KpiFactory,
    MembershipFactory,
    ObjectiveFactory,
    OrganizationFactory,
)

from pulseboard.audit.models import AuditEvent
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.goals.models import CheckIn, Cycle, KeyResult, Objective
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership, Organization
from pulseboard.orgs.teams import team_create
from pulseboard.web.tiles import tile_cache_clear

pytestmark = pytest.mark.django_db


def running(org: Organization, **changes: Any) -> Cycle:
    today = clock.now().date()
    fields = {
        "name": "This quarter",
        "starts_on": today - timedelta(days=45),
        "ends_on": today + timedelta(days=44),
    }
    return CycleFactory(org=org, **{**fields, **changes})


def page(client: Client, name: str, **kwargs: Any) -> str:
    response = client.get(reverse(name, kwargs=kwargs or None))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def written() -> tuple[int, ...]:
    return (
        Cycle.objects.count(),
        Objective.objects.count(),
        KeyResult.objects.count(),
        CheckIn.objects.count(),
        AuditEvent.objects.count(),
    )


# --- the board ----------------------------------------------------------------------------


def test_the_goals_page_shows_open_cycles_objectives_and_key_results(
    member_client: Client, member: Membership
) -> None:
    org = member.org
    quarter = running(org, name="Q-now")
    CycleFactory(
        org=org,
        name="Q-next",
        starts_on=clock.now().date() + timedelta(days=60),
        ends_on=clock.now().date() + timedelta(days=150),
    )
    CycleFactory(org=org, name="Q-old", starts_on=date(2020, 1, 1), ends_on=date(2020, 3, 31))
    objective = ObjectiveFactory(cycle=quarter, title="Delight customers", owner=member.user)
    kpi = KpiFactory(org=org, title="NPS", unit_type="number", display_format="integer")
    value_record(kpi=kpi, value=44, observed_at=None, source="manual", actor=Actor.system())
    KeyResultFactory(
        objective=objective, title="NPS to 50", kpi=kpi, start_value=30, target_value=50
    )
    KeyResultFactory(objective=objective, title="Ship onboarding", current_value=None)
    ObjectiveFactory(cycle=CycleFactory(name="Their cycle"), title="Their secret objective")
    html = page(member_client, "web:goals")
    assert html.index("Q-now") < html.index("Q-next")  # active cycles first
    assert "Delight customers" in html and member.user.email in html  # owner
    assert "NPS to 50" in html and "44" in html and "from 30 to 50" in html
    assert "follows" in html and reverse("web:kpi-detail", args=[kpi.pk]) in html
    assert "On track" in html and "No data" in html  # status in words
    assert 'class="goal-bar"' in html and "goal-bar-expected" in html
    assert "Q-old" in html and "Earlier cycles" in html  # closed: listed apart
    assert "Their secret objective" not in html and "Their cycle" not in html
    assert ">Goals</a>" in html and 'aria-current="page">Goals' in html


def test_a_closed_cycle_is_shown_in_full_when_chosen(
    member_client: Client, member: Membership
) -> None:
    old = CycleFactory(
        org=member.org, name="Q-old", starts_on=date(2020, 1, 1), ends_on=date(2020, 3, 31)
    )
    objective = ObjectiveFactory(cycle=old, title="Old aim")
    KeyResultFactory(objective=objective, title="Done", current_value=100)
    KeyResultFactory(objective=objective, title="Not done", current_value=10)
    html = member_client.get(reverse("web:goals") + f"?cycle={old.pk}").content.decode()
    assert "Old aim" in html and "Achieved" in html and "Missed" in html
    for bad in ("nosuchcycle", "%00", CycleFactory().pk):
        assert member_client.get(reverse("web:goals") + f"?cycle={bad}").status_code == 404


def test_an_empty_goals_page_invites_an_admin_to_create_a_cycle(
    admin_client: Client, member_client: Client
) -> None:
    assert "Create a cycle" in page(admin_client, "web:goals")
    assert "has not set any goals yet" in page(member_client, "web:goals")


def build(org: Organization, objectives: int, key_results: int) -> Cycle:
    cycle = running(org)
    owner = MembershipFactory(org=org).user
    for _ in range(objectives):
        objective = ObjectiveFactory(cycle=cycle, owner=owner)
        for _ in range(key_results):
            KeyResultFactory(objective=objective, kpi=KpiFactory(org=org), owner=owner)
            KeyResultFactory(objective=objective, current_value=5)
    return cycle


def queries(client: Client, url: str) -> int:
    """The queries of a page once the session is warm (the first request also touches it).

    Counted with the tile cache cold, as every page count is: a warm tile turns cold when
    the minute changes, which could fall between two counts (web/tiles.py).
    """
    assert client.get(url).status_code == 200
    tile_cache_clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_goals_page_takes_the_same_queries_for_one_or_many_objectives(
    member_client: Client, member: Membership, django_assert_num_queries: Any
) -> None:
    build(member.org, 1, 1)
    url = reverse("web:goals")
    few = queries(member_client, url)
    build(member.org, 8, 5)
    tile_cache_clear()
    with django_assert_num_queries(few):
        member_client.get(url)


def test_detail_pages_take_the_same_queries_for_one_or_many_key_results(
    admin_client: Client, admin: Membership, django_assert_num_queries: Any
) -> None:
    org = admin.org
    objective = ObjectiveFactory(cycle=running(org))
    kpi = KpiFactory(org=org)
    first = KeyResultFactory(objective=objective, kpi=kpi)
    manual = KeyResultFactory(objective=objective)
    CheckInFactory(key_result=manual)
    urls = [
        reverse("web:objective-detail", args=[objective.pk]),
        reverse("web:kpi-detail", args=[kpi.pk]),
        reverse("web:key-result-detail", args=[manual.pk]),
        reverse("web:key-result-detail", args=[first.pk]),
    ]
    counts = [queries(admin_client, url) for url in urls]
    for _ in range(6):
        KeyResultFactory(objective=objective, kpi=kpi, owner=admin.user)
        CheckInFactory(key_result=manual)
    for url, count in zip(urls, counts, strict=True):
        tile_cache_clear()
        with django_assert_num_queries(count):
            admin_client.get(url)


# --- details, chart, check-ins ------------------------------------------------------------


def test_key_result_detail_has_its_chart_against_the_expected_line_and_check_ins(
    member_client: Client, member: Membership
) -> None:
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=running(member.org)),
        title="Calls held",
        target_value=20,
        unit_label="calls",
        display_format="integer",
    )
    CheckInFactory(key_result=key_result, value=4, note="first week", author_label="ann@x.org")
    html = page(member_client, "web:key-result-detail", key_result_id=key_result.pk)
    assert 'class="chart goal-chart"' in html and "goal-chart-expected" in html
    assert "goal-chart-line" in html and "today" in html
    assert "first week" in html and "4 calls" in html and "ann@x.org" in html
    assert "Check in</button>" not in html  # a member who does not own it cannot check in


def test_the_owner_checks_in_and_it_is_audited(member_client: Client, member: Membership) -> None:
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=running(member.org)), owner=member.user, target_value=10
    )
    assert "Check in</button>" in page(
        member_client, "web:key-result-detail", key_result_id=key_result.pk
    )
    url = reverse("web:key-result-check-in", args=[key_result.pk])
    response = member_client.post(url, {"value": "2.5", "note": "two and a half"})
    assert response.status_code == 302
    key_result.refresh_from_db()
    assert key_result.current_value == 2.5
    event = AuditEvent.objects.get(action="key_result.checked_in")
    assert event.actor_label == member.user.email


def test_someone_else_than_the_owner_cannot_check_in(
    member_client: Client, member: Membership
) -> None:
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running(member.org)))
    before = written()
    response = member_client.post(
        reverse("web:key-result-check-in", args=[key_result.pk]), {"value": "3"}
    )
    assert response.status_code == 403 and written() == before


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "Enter a value"), ("lots", "is not a number"), ("1e999", "finite"), ("NaN", "")],
)
def test_a_bad_check_in_shows_why_and_writes_nothing(
    admin_client: Client, admin: Membership, typed: str, message: str
) -> None:
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running(admin.org)))
    before = written()
    response = admin_client.post(
        reverse("web:key-result-check-in", args=[key_result.pk]), {"value": typed}
    )
    assert response.status_code == 422 and written() == before
    assert message in response.content.decode()


def test_a_check_in_on_a_linked_key_result_is_refused_naming_the_kpi(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org, title="Churn rate")
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running(admin.org)), kpi=kpi)
    html = page(admin_client, "web:key-result-detail", key_result_id=key_result.pk)
    assert "takes no check-ins" in html and "Check in</button>" not in html
    before = written()
    response = admin_client.post(
        reverse("web:key-result-check-in", args=[key_result.pk]), {"value": "2"}
    )
    assert response.status_code == 409 and written() == before
    assert "Churn rate" in response.content.decode()


def test_objective_detail_lists_its_key_results(member_client: Client, member: Membership) -> None:
    objective = ObjectiveFactory(cycle=running(member.org), title="Grow", description="Why")
    KeyResultFactory(objective=objective, title="Leads to 100", current_value=50)
    html = page(member_client, "web:objective-detail", objective_id=objective.pk)
    assert "Grow" in html and "Leads to 100" in html and "50%" in html
    assert "Edit objective" not in html  # members read only


# --- admin forms --------------------------------------------------------------------------


def test_creating_a_cycle_with_the_end_before_the_start_says_so(admin_client: Client) -> None:
    before = written()
    response = admin_client.post(
        reverse("web:cycle-create"),
        {"name": "Q1", "starts_on": "2027-03-31", "ends_on": "2027-01-01"},
    )
    assert response.status_code == 422 and written() == before
    assert "The end date is before the start date." in response.content.decode()
    response = admin_client.post(
        reverse("web:cycle-create"),
        {"name": "Q1", "starts_on": "2027-01-01", "ends_on": "9999-12-31"},
    )
    assert response.status_code == 422 and written() == before
    assert "ends_on must be between" in response.content.decode()


def test_admin_creates_a_cycle_an_objective_and_a_key_result(
    admin_client: Client, admin: Membership
) -> None:
    response = admin_client.post(
        reverse("web:cycle-create"),
        {"name": "Q1 2027", "starts_on": "2027-01-01", "ends_on": "2027-03-31"},
    )
    assert response.status_code == 302
    cycle = Cycle.objects.get(org=admin.org)
    response = admin_client.post(
        reverse("web:objective-create"),
        {"title": "Happy customers", "cycle": cycle.pk, "owner": str(admin.user_id)},
    )
    assert response.status_code == 302
    objective = Objective.objects.get(org=admin.org)
    assert objective.owner_id == admin.user_id
    fields = {
        "objective": objective.pk,
        "title": "Calls",
        "kind": "increase_to",
        "start_value": "5",
        "target_value": "5",
        "weight": "1",
        "unit_type": "number",
        "display_format": "integer",
    }
    response = admin_client.post(reverse("web:key-result-create"), fields)
    assert response.status_code == 422 and "nothing to move" in response.content.decode()
    response = admin_client.post(
        reverse("web:key-result-create"), {**fields, "target_value": "nan"}
    )
    assert response.status_code == 422 and not KeyResult.objects.exists()
    response = admin_client.post(reverse("web:key-result-create"), {**fields, "kind": "grow_to"})
    assert response.status_code == 422 and "grow_to" in response.content.decode()
    response = admin_client.post(reverse("web:key-result-create"), {**fields, "target_value": "40"})
    assert response.status_code == 302
    assert KeyResult.objects.get(org=admin.org).target_value == 40


def test_a_key_result_from_a_kpi_starts_at_its_value_with_its_units(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org, title="Retention", unit_type="percentage")
    value_record(kpi=kpi, value=85.5, observed_at=None, source="manual", actor=Actor.system())
    objective = ObjectiveFactory(cycle=running(admin.org))
    kpi_page = page(admin_client, "web:kpi-detail", kpi_id=kpi.pk)
    assert "Create a key result from this KPI" in kpi_page
    html = admin_client.get(reverse("web:key-result-create") + f"?kpi={kpi.pk}").content.decode()
    assert 'value="85.5"' in html and "from the KPI “Retention”" in html
    response = admin_client.post(
        reverse("web:key-result-create"),
        {
            "objective": objective.pk,
            "title": "Retention to 92%",
            "kind": "increase_to",
            "kpi": kpi.pk,
            "start_value": "85.5",
            "target_value": "92",
            "weight": "1",
            "unit_type": "number",
            "display_format": "integer",
        },
    )
    assert response.status_code == 302
    key_result = KeyResult.objects.get(org=admin.org)
    assert key_result.kpi_id == kpi.pk
    kpi_page = page(admin_client, "web:kpi-detail", kpi_id=kpi.pk)
    assert "Retention to 92%" in kpi_page and "85.5%" in kpi_page
    for bad in ("nosuch", "%00", KpiFactory().pk):
        url = reverse("web:key-result-create") + f"?kpi={bad}"
        assert admin_client.get(url).status_code == 404


def test_members_see_the_kpis_key_results_but_no_create_button(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org)
    KeyResultFactory(objective=ObjectiveFactory(cycle=running(member.org)), kpi=kpi, title="KR1")
    html = page(member_client, "web:kpi-detail", kpi_id=kpi.pk)
    assert "KR1" in html and "Create a key result from this KPI" not in html


def test_a_key_result_moves_between_objectives_of_the_org_only(
    admin_client: Client, admin: Membership
) -> None:
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=running(admin.org)))
    other = ObjectiveFactory(cycle=key_result.objective.cycle, title="Elsewhere")
    theirs = ObjectiveFactory()
    fields = {
        "title": key_result.title,
        "kind": "increase_to",
        "start_value": "0",
        "target_value": "100",
        "weight": "1",
        "unit_type": "number",
        "display_format": "decimal_1",
    }
    url = reverse("web:key-result-edit", args=[key_result.pk])
    response = admin_client.post(url, {**fields, "objective": theirs.pk})
    assert response.status_code == 422
    response = admin_client.post(url, {**fields, "objective": other.pk})
    assert response.status_code == 302
    key_result.refresh_from_db()
    assert key_result.objective_id == other.pk


def test_a_cycle_with_objectives_is_not_deleted(admin_client: Client, admin: Membership) -> None:
    objective = ObjectiveFactory(cycle=running(admin.org), title="Still here")
    before = written()
    response = admin_client.post(reverse("web:cycle-delete", args=[objective.cycle_id]))
    assert response.status_code == 409 and written() == before
    assert "Still here" in response.content.decode()
    admin_client.post(reverse("web:objective-delete", args=[objective.pk]))
    response = admin_client.post(reverse("web:cycle-delete", args=[objective.cycle_id]))
    assert response.status_code == 302 and not Cycle.objects.exists()


def test_deleting_a_kpi_that_key_results_follow_is_refused_naming_them(
    admin_client: Client, admin: Membership
) -> None:
    kpi = KpiFactory(org=admin.org)
    KeyResultFactory(
        objective=ObjectiveFactory(cycle=running(admin.org)), kpi=kpi, title="Churn to 2%"
    )
    url = reverse("web:kpi-delete", args=[kpi.pk])
    assert "Churn to 2%" in admin_client.get(url).content.decode()
    before = AuditEvent.objects.count()
    response = admin_client.post(url)
    assert response.status_code == 409 and "Churn to 2%" in response.content.decode()
    assert Kpi.objects.filter(pk=kpi.pk).exists() and AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "name",
    [
        "web:objective-detail",
        "web:objective-edit",
        "web:objective-delete",
        "web:key-result-detail",
        "web:key-result-edit",
        "web:key-result-delete",
        "web:cycle-edit",
        "web:cycle-delete",
    ],
)
def test_another_orgs_goals_and_odd_ids_are_404(admin_client: Client, name: str) -> None:
    theirs = KeyResultFactory()
    ids = {
        "objective_id": theirs.objective_id,
        "key_result_id": theirs.pk,
        "cycle_id": theirs.objective.cycle_id,
    }
    (param,) = [p for p in ids if p.split("_id")[0].replace("_", "-") in name]
    for value in (ids[param], "no-such-thing", "bad\u00e9id"):
        assert admin_client.get(reverse(name, kwargs={param: value})).status_code == 404


# --- the team filter (DESIGN §13) -----------------------------------------------------------


def test_the_goals_page_filters_objectives_by_team(
    member_client: Client, member: Membership
) -> None:
    org = member.org
    quarter = running(org, name="Q-now")
    old = CycleFactory(org=org, name="Q-old", starts_on=date(2020, 1, 1), ends_on=date(2020, 3, 31))
    growth = team_create(org=org, actor=Actor.system("test"), name="Growth")
    team_create(org=org, actor=Actor.system("test"), name="Platform")
    ObjectiveFactory(cycle=quarter, title="Grow signups", team=growth)
    ObjectiveFactory(cycle=quarter, title="Cut latency")
    everything = page(member_client, "web:goals")
    assert "Grow signups" in everything and "Cut latency" in everything
    assert '<select id="goals-team" name="team">' in everything
    assert '<option value="growth">Growth</option>' in everything
    response = member_client.get(reverse("web:goals"), {"team": "growth"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Grow signups" in html and "Cut latency" not in html
    assert '<option value="growth" selected>Growth</option>' in html
    assert f"?cycle={old.pk}&amp;team=growth" in html  # other cycles keep the filter
    by_id = member_client.get(reverse("web:goals"), {"team": growth.pk}).content.decode()
    assert "Grow signups" in by_id and "Cut latency" not in by_id
    platform = member_client.get(reverse("web:goals"), {"team": "platform"}).content.decode()
    assert "No objectives of Platform in this cycle." in platform
    # The live poll keeps the filter: its URL carries the query string.
    assert f"{reverse('web:live-goals')}?team=growth" in html
    poll = member_client.get(reverse("web:live-goals"), {"team": "growth"}).content.decode()
    assert "Grow signups" in poll and "Cut latency" not in poll


def test_the_goals_team_filter_is_404_for_another_orgs_or_an_unknown_team(
    member_client: Client, member: Membership
) -> None:
    running(member.org)
    theirs = team_create(org=OrganizationFactory(), actor=Actor.system("test"), name="Theirs")
    for key in (theirs.pk, "theirs", "nope", "x" * 500):
        assert member_client.get(reverse("web:goals"), {"team": key}).status_code == 404


def test_no_team_filter_when_the_org_has_no_team(member_client: Client, member: Membership) -> None:
    running(member.org)
    assert 'name="team"' not in page(member_client, "web:goals")
