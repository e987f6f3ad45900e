"""KPI detail: chart with thresholds, ranges, history table and CSV, audit events, KPI tree,
and the source status with its last error for admins only."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
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
    # At noon, four points an hour apart stay on one day (just after midnight they did not).
    with time_machine.travel(clock.now().replace(hour=12, minute=0), tick=False):
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


def test_json_download_streams_the_range_as_the_api_does(
    member_client: Client, uptime: Kpi
) -> None:
    page_body = page(member_client, uptime, "?range=1y")
    assert reverse("web:kpi-history-json", args=[uptime.pk]) + "?range=1y" in page_body
    response = member_client.get(reverse("web:kpi-history-json", args=[uptime.pk]) + "?range=90d")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert 'filename="uptime-history-90d.json"' in response["Content-Disposition"]
    document = json.loads(b"".join(response.streaming_content))
    assert document["kpi_id"] == uptime.pk
    assert [row["value"] for row in document["history"]] == [99.91, 99.97, 99.99]
    assert set(document["history"][0]) == {
        "observed_at",
        "value",
        "status",
        "source",
        "recorded_at",
    }


def test_a_drafts_json_download_is_a_404_for_members(
    member_client: Client, admin_client: Client, admin: Membership
) -> None:
    draft = KpiFactory(org=admin.org, published=False)
    url = reverse("web:kpi-history-json", args=[draft.pk])
    assert member_client.get(url).status_code == 404
    assert admin_client.get(url).status_code == 200


def test_recent_audit_events_of_the_kpi_are_listed(
    member_client: Client, admin_client: Client, uptime: Kpi, admin: Membership
) -> None:
    assert admin.user.email in page(admin_client, uptime)
    body = page(member_client, uptime)
    assert "value.recorded" in body and "a team member" in body
    assert admin.user.email not in body


KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
SPREADSHEET = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def leaky_events(kpi: Kpi, admin: Membership) -> None:
    """Events as recorded before redaction existed (they are not migrated), an admin's
    IP address, and a webhook delivery from a sender's address."""
    audit_record(
        org_id=kpi.org_id,
        actor=Actor.for_user(admin.user, ip="203.0.113.77"),
        action=Action.SOURCE_BOUND,
        target_type="kpi",
        target_id=kpi.pk,
        target_label=kpi.title,
        before={"kind": "manual", "config": {}, "secret_hint": None},
        after={
            "kind": "https_get",
            "config": {"url": f"https://api.example.com/v1?key={KEY}", "json_path": "$.up"},
            "secret_hint": "Ab12",
            "interval_seconds": 300,
        },
    )
    audit_record(
        org_id=kpi.org_id,
        actor=Actor.for_user(admin.user, ip="203.0.113.77"),
        action=Action.SOURCE_CONFIG_CHANGED,
        target_type="kpi",
        target_id=kpi.pk,
        target_label=kpi.title,
        before={"kind": "sheets", "config": {"spreadsheet": SPREADSHEET, "cell": "B2"}},
        after={"kind": "sheets", "config": {"spreadsheet": SPREADSHEET, "cell": "C3"}},
    )
    value_record(
        kpi=kpi,
        value=99.98,
        observed_at=None,
        source="webhook",
        actor=replace(Actor.connector("webhook", "src-1"), ip="198.51.100.23"),
    )


def test_members_see_no_source_settings_email_or_ip_in_recent_changes(
    member_client: Client, uptime: Kpi, admin: Membership
) -> None:
    leaky_events(uptime, admin)
    body = page(member_client, uptime)
    section = body.split('id="events-title"')[1]
    for hidden in (
        KEY,
        "api.example.com",
        "$.up",
        "Ab12",
        SPREADSHEET,
        "203.0.113.77",
        "198.51.100.23",
        admin.user.email,
        "connector:webhook",
    ):
        assert hidden not in body, hidden
    assert "source.bound" in section and "https_get" in section  # the kind change stays
    assert "Webhook source" in section and "a team member" in section


def test_admins_see_the_events_as_recorded(
    admin_client: Client, uptime: Kpi, admin: Membership
) -> None:
    leaky_events(uptime, admin)
    body = page(admin_client, uptime)
    for shown in ("203.0.113.77", "198.51.100.23", admin.user.email, "connector:webhook"):
        assert shown in body, shown


def test_a_members_own_events_say_you(admin: Membership, uptime: Kpi) -> None:
    # A member who was an admin when they set a value reads it as theirs.
    member = MembershipFactory(org=admin.org)
    value_record(
        kpi=uptime, value=1.0, observed_at=None, source="manual", actor=Actor.for_user(member.user)
    )
    client = Client()
    client.force_login(member.user)
    section = page(client, uptime).split('id="events-title"')[1]
    assert ">you<" in section and member.user.email not in section


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


def test_the_detail_page_links_to_the_tree_only_when_the_kpi_is_in_one(
    member_client: Client, member: Membership
) -> None:
    revenue = KpiFactory(org=member.org, title="Revenue")
    leads = KpiFactory(org=member.org, title="Leads", parent=revenue)
    alone = KpiFactory(org=member.org, title="Alone")
    link = "See it in the KPI tree"
    for kpi in (revenue, leads):  # drivers, or a parent
        assert f'href="{reverse("web:tree")}#node-{kpi.pk}">{link}</a>' in page(member_client, kpi)
    assert link not in page(member_client, alone)


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
