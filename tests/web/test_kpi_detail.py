"""KPI detail: chart with thresholds, ranges, history table and CSV, audit events, KPI tree,
and the source status with its last error for admins only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory

from pulseboard.connectors.models import Source
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.web.views import kpi_detail

pytestmark = pytest.mark.django_db


@pytest.fixture
def uptime(admin: Membership) -> Kpi:
    kpi = KpiFactory(
        org=admin.org,
        title="Uptime",
        threshold=99.9,
        warn_at=99.95,
        unit_type="percentage",
        display_format="decimal_2",
    )
    for days_ago, value in [(200, 99.5), (40, 99.91), (10, 99.97), (1, 99.99)]:
        value_record(
            kpi=kpi,
            value=value,
            observed_at=clock.now() - timedelta(days=days_ago),
            source="manual",
            actor=Actor.for_user(admin.user),
        )
    return kpi


def page(client: Client, kpi: Kpi, query: str = "") -> str:
    response = client.get(reverse("web:kpi-detail", args=[kpi.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_chart_draws_the_floor_and_shades_the_warning_band(
    member_client: Client, uptime: Kpi
) -> None:
    body = page(member_client, uptime)
    assert '<svg class="chart"' in body
    assert "floor 99.90%" in body
    assert 'class="chart-band"' in body and "at risk below 99.95%" in body
    assert "Target: stay above 99.90%" in body


@pytest.mark.parametrize(("query", "rows"), [("", 3), ("?range=30d", 2), ("?range=all", 4)])
def test_the_range_selects_the_rows_shown(
    member_client: Client, uptime: Kpi, query: str, rows: int
) -> None:
    body = page(member_client, uptime, query)
    assert body.count('<td class="num">') == rows


def test_an_unknown_range_falls_back_to_90_days(member_client: Client, uptime: Kpi) -> None:
    body = page(member_client, uptime, "?range=forever&page=x")
    assert 'aria-current="true" class="current">90d' in body


def test_the_history_table_pages(member_client: Client, admin: Membership) -> None:
    kpi = KpiFactory(org=admin.org, threshold=1)
    for minutes in range(30):
        value_record(
            kpi=kpi,
            value=float(minutes),
            observed_at=clock.now() - timedelta(minutes=minutes),
            source="api",
            actor=Actor.system(),
        )
    first = page(member_client, kpi)
    assert "Page 1 of 2" in first and first.count('<td class="num">') == kpi_detail.TABLE_PAGE_SIZE
    second = page(member_client, kpi, "?range=90d&page=2")
    assert second.count('<td class="num">') == 5


def test_many_points_are_charted_as_daily_averages(
    member_client: Client, admin: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kpi_detail, "RAW_POINTS_LIMIT", 3)
    kpi = KpiFactory(org=admin.org, threshold=1)
    for hours in range(10):
        value_record(
            kpi=kpi,
            value=1.0 + hours,
            observed_at=clock.now() - timedelta(days=hours // 4, hours=hours % 4),
            source="api",
            actor=Actor.system(),
        )
    body = page(member_client, kpi)
    points = body.split('class="chart-line" points="')[1].split('"')[0].split()
    assert len(points) == 3  # one per day


def test_csv_download_streams_the_range(member_client: Client, uptime: Kpi) -> None:
    response = member_client.get(reverse("web:kpi-history-csv", args=[uptime.pk]) + "?range=all")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="uptime-history-all.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:2] == ["observed_at", "value"]
    assert [float(r[1]) for r in rows[1:]] == [99.5, 99.91, 99.97, 99.99]


def test_recent_audit_events_of_the_kpi_are_listed(
    member_client: Client, uptime: Kpi, admin: Membership
) -> None:
    body = page(member_client, uptime)
    assert "value.recorded" in body and admin.user.email in body


def test_the_kpi_tree_links_parent_and_published_drivers(
    member_client: Client, admin_client: Client, admin: Membership
) -> None:
    revenue = KpiFactory(org=admin.org, title="Revenue")
    leads = KpiFactory(org=admin.org, title="Leads", parent=revenue)
    KpiFactory(org=admin.org, title="Draft driver", parent=revenue, published=False)
    body = page(member_client, revenue)
    assert "Leads" in body and reverse("web:kpi-detail", args=[leads.pk]) in body
    assert "Draft driver" not in body
    assert "Draft driver" in page(admin_client, revenue)
    child = page(member_client, leads)
    assert "Drives:" in child and "Revenue" in child


def test_admins_see_the_source_status_and_last_error_members_do_not(
    admin_client: Client, member_client: Client, uptime: Kpi
) -> None:
    Source.objects.filter(kpi=uptime).update(
        kind="https_get",
        config={"url": "https://example.com/metrics", "json_path": "$.uptime"},
        consecutive_failures=3,
        last_error="HTTP 503 from example.com",
        last_error_at=clock.now(),
    )
    admin_body = page(admin_client, uptime)
    assert "HTTP 503 from example.com" in admin_body and "3 failures in a row" in admin_body
    member_body = page(member_client, uptime)
    assert "HTTP 503" not in member_body and 'id="source-title"' not in member_body
    assert "source failing" in member_body  # the mark itself is for everyone


def test_an_empty_history_says_what_to_do(admin_client: Client, admin: Membership) -> None:
    kpi = KpiFactory(org=admin.org)
    body = page(admin_client, kpi)
    assert "No values in this range yet" in body and "<svg" not in body
