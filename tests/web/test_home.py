"""Home: org-scoped tiles in admin order, status in words, marks, empty states, constant queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import KpiFactory

from pulseboard.connectors.models import Source
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.web.tiles import tile_cache_clear

pytestmark = pytest.mark.django_db


def record(kpi: Kpi, value: float, *, days_ago: float = 0) -> None:
    value_record(
        kpi=kpi,
        value=value,
        observed_at=clock.now() - timedelta(days=days_ago),
        source="manual",
        actor=Actor.system(),
    )


def test_home_shows_published_kpis_of_own_org_only(
    member_client: Client, member: Membership
) -> None:
    mine = KpiFactory(
        org=member.org,
        title="Our uptime",
        threshold=99.9,
        unit_type="percentage",
        display_format="decimal_1",
    )
    record(mine, 99.95)
    KpiFactory(org=member.org, title="Secret draft", published=False)
    KpiFactory(title="Other org KPI")
    page = member_client.get(reverse("web:home")).content.decode()
    assert "Our uptime" in page and "stay above 99.9%" in page
    assert "On track" in page  # status in words, never colour alone
    assert "Secret draft" not in page
    assert "Other org KPI" not in page


def test_tiles_follow_the_admin_order(member_client: Client, member: Membership) -> None:
    KpiFactory(org=member.org, title="Second", position=2)
    KpiFactory(org=member.org, title="First", position=1)
    page = member_client.get(reverse("web:home")).content.decode()
    assert page.index("First") < page.index("Second")


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [(12, "green", "On track"), (10.5, "yellow", "At risk"), (3, "red", "Off track")],
)
def test_a_tile_carries_its_status_as_colour_class_word_and_icon(
    member_client: Client, member: Membership, value: float, status: str, words: str
) -> None:
    kpi = KpiFactory(org=member.org, threshold=10, warn_at=11)
    record(kpi, value)
    page = member_client.get(reverse("web:home")).content.decode()
    assert f'class="tile status-{status}' in page
    assert f'<span class="status-badge status-{status}">' in page and words in page


def test_a_tile_without_a_value_says_so(member_client: Client, member: Membership) -> None:
    KpiFactory(org=member.org)
    page = member_client.get(reverse("web:home")).content.decode()
    assert "No data" in page and "no value yet" in page and "No history yet" in page


def test_a_tile_shows_change_sparkline_category_and_update_time(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, title="Latency", shape="stay_below", threshold=500)
    kpi.category = "leading"
    kpi.save()
    record(kpi, 400, days_ago=10)
    record(kpi, 300, days_ago=0.1)
    page = member_client.get(reverse("web:home")).content.decode()
    assert "Leading" in page
    # Down is good for a ceiling: the change is coloured good and says so in words.
    assert 'class="tile-change good"' in page and "good for this KPI" in page
    assert "vs 7d ago" in page
    assert '<svg class="spark"' in page and 'aria-label="Latency: last 90 days"' in page
    assert "updated 2 h ago" in page


def test_stale_and_failing_marks_are_separate_from_the_status(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, title="Backlog", expected_every="1h")
    record(kpi, 50, days_ago=1)
    Source.objects.filter(kpi=kpi).update(kind="https_get", consecutive_failures=2)
    page = member_client.get(reverse("web:home")).content.decode()
    assert "status-green" in page  # stale never changes the colour
    assert "stale" in page and "source failing" in page


def test_admins_get_an_inline_edit_button_members_do_not(
    admin_client: Client, member_client: Client, admin: Membership
) -> None:
    KpiFactory(org=admin.org)
    assert 'class="value-button"' in admin_client.get(reverse("web:home")).content.decode()
    assert 'class="value-button"' not in member_client.get(reverse("web:home")).content.decode()


def test_empty_home_tells_an_admin_to_create_the_first_kpi(admin_client: Client) -> None:
    page = admin_client.get(reverse("web:home")).content.decode()
    assert "Create your first KPI" in page and reverse("web:kpi-create") in page


def test_empty_home_with_drafts_points_the_admin_to_publishing(
    admin_client: Client, admin: Membership
) -> None:
    KpiFactory(org=admin.org, published=False)
    page = admin_client.get(reverse("web:home")).content.decode()
    assert "publish one" in page and reverse("web:settings-kpis") in page


def test_empty_home_tells_a_member_an_admin_will_publish(member_client: Client) -> None:
    page = member_client.get(reverse("web:home")).content.decode()
    assert "has not published any KPIs yet" in page and "Create your first KPI" not in page


@pytest.mark.parametrize("role", ["member", "admin"])
def test_home_query_count_does_not_grow_with_kpis(
    role: str, member_client: Client, admin_client: Client, admin: Membership
) -> None:
    client = admin_client if role == "admin" else member_client
    kpis = [KpiFactory(org=admin.org, expected_every="1d") for _ in range(12)]
    for kpi in kpis:
        record(kpi, 12, days_ago=8)
        record(kpi, 11)
    Kpi.objects.filter(pk__in=[k.pk for k in kpis[2:]]).update(published=False)
    client.get(reverse("web:home"))
    tile_cache_clear()  # measure the cold page: every tile built
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("web:home"))
    Kpi.objects.filter(pk__in=[k.pk for k in kpis]).update(published=True)
    tile_cache_clear()  # measure the cold page: every tile built
    with CaptureQueriesContext(connection) as twelve:
        response = client.get(reverse("web:home"))
    assert response.content.decode().count('class="tile ') == 12
    assert len(twelve) == len(two)


def test_home_reads_the_clock_for_ages(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    record(kpi, 20)
    with time_machine.travel(clock.now() + timedelta(days=3), tick=False):
        page = member_client.get(reverse("web:home")).content.decode()
    assert "updated 3 d ago" in page
