"""Status periods on the KPI page's chart (DESIGN §12): shaded behind the line, in words for
screen readers, in the org's language and zone; another org's KPI stays a 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.web.charts import StatusShade, history_chart

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def tick(value: float, step: float) -> str:
    return f"{value:g}"


def test_each_period_is_a_translucent_rect_behind_the_line_with_its_words() -> None:
    points = [(NOW - 4 * DAY, 5.0), (NOW - 2 * DAY, 15.0), (NOW, 16.0)]
    shades = [
        StatusShade("red", NOW - 4 * DAY, NOW - 2 * DAY, "Off track from Dec 1 until Dec 3"),
        StatusShade("green", NOW - 2 * DAY, None, "On track since Dec 3"),
    ]
    svg = history_chart(points, title="History of NPS", tick_label=tick, status_periods=shades)
    assert svg.count('class="chart-status ') == 2
    assert svg.index("chart-status-red") < svg.index("chart-status-green") < svg.index("chart-line")
    assert (
        'aria-label="History of NPS. Status: Off track from Dec 1 until Dec 3; '
        'On track since Dec 3"' in svg
    )
    assert "<title>On track since Dec 3</title>" in svg


def test_periods_outside_the_points_are_clipped_or_left_out_and_text_escaped() -> None:
    points = [(NOW - 2 * DAY, 5.0), (NOW, 6.0)]
    shades = [
        StatusShade("green", NOW - 9 * DAY, NOW - 5 * DAY, "gone"),
        StatusShade("red", NOW - 9 * DAY, None, "<b>red</b>"),
    ]
    svg = history_chart(points, title="T", tick_label=tick, status_periods=shades)
    assert svg.count('class="chart-status ') == 1
    assert "<b>" not in svg and "&lt;b&gt;red&lt;/b&gt;" in svg


def test_one_point_has_no_time_axis_to_shade() -> None:
    shades = [StatusShade("red", NOW - DAY, None, "Off track since Dec 4")]
    svg = history_chart([(NOW, 1.0)], title="T", tick_label=tick, status_periods=shades)
    assert "chart-status" not in svg.replace("Status:", "")


def kpi_with_periods(admin: Membership) -> Kpi:
    kpi = KpiFactory(org=admin.org, title="NPS", threshold=10)
    for days_ago, value in [(4, 5.0), (2, 15.0), (1, 16.0)]:
        value_record(
            kpi=kpi,
            value=value,
            observed_at=NOW - days_ago * DAY,
            source="manual",
            actor=Actor.system("test"),
        )
    return kpi


def test_the_kpi_page_shades_its_status_periods_in_the_orgs_words(
    admin: Membership, member_client: Client
) -> None:
    admin.org.locale = "en_GB"
    admin.org.save(update_fields=["locale"])
    with time_machine.travel(NOW, tick=False):
        kpi = kpi_with_periods(admin)
        body = member_client.get(reverse("web:kpi-detail", args=[kpi.pk])).content.decode()
    assert 'class="chart-status chart-status-red"' in body
    assert 'class="chart-status chart-status-green"' in body
    assert "Off track from 1 Dec until 3 Dec; On track since 3 Dec" in body


def test_another_orgs_kpi_page_is_a_404(admin: Membership, member_client: Client) -> None:
    foreign = KpiFactory(title="Theirs")
    response = member_client.get(reverse("web:kpi-detail", args=[foreign.pk]))
    assert response.status_code == 404
