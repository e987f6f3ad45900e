"""Targets over time on the web: the schedule table (Settings → KPIs → Targets over time),
the step line on the detail chart and the phrase on the tile."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import KpiFactory
from tests.web.conftest import HTMX

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi, TargetEntry
from pulseboard.indicators.shapes import ShapeParams
from pulseboard.indicators.targets import ScheduledTarget
from pulseboard.indicators.targets_services import kpi_targets_replace
from pulseboard.orgs.models import Membership
from pulseboard.web.charts import history_chart, schedule_steps
from pulseboard.web.tiles import tile_cache_clear

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)
ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def latency(admin: Membership) -> Kpi:
    return KpiFactory(
        org=admin.org,
        title="p95 latency",
        shape="stay_below",
        threshold=500.0,
        unit_type="time",
        unit_label="ms",
        display_format="integer",
    )


def url(kpi: Kpi) -> str:
    return reverse("web:kpi-targets", kwargs={"kpi_id": kpi.pk})


def rows(*cells: dict[str, str]) -> dict[str, str]:
    data = {"rows": str(len(cells)), "action": "save"}
    for index, row in enumerate(cells):
        data.update({f"{name}_{index}": value for name, value in row.items()})
    return data


def stored(kpi: Kpi) -> list[tuple[datetime, float | None, float | None]]:
    return list(
        TargetEntry.objects.filter(kpi=kpi)
        .order_by("effective_from")
        .values_list("effective_from", "threshold", "warn_at")
    )


def test_the_edit_page_links_to_the_targets_page(admin_client: Client, latency: Kpi) -> None:
    page = admin_client.get(reverse("web:kpi-edit", kwargs={"kpi_id": latency.pk}))
    assert url(latency) in page.content.decode()


def test_the_page_shows_the_shapes_columns_the_schedule_and_an_empty_row(
    admin_client: Client, latency: Kpi
) -> None:
    kpi_targets_replace(
        kpi=latency,
        actor=ACTOR,
        entries=[
            {"effective_from": "2026-12-01T00:00:00Z", "threshold": 450},
            {"effective_from": "2027-01-01T00:00:00Z", "threshold": 400, "warn_at": 350},
        ],
    )
    page = admin_client.get(url(latency))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Threshold" in text and "At risk from" in text and "Lower" not in text
    assert 'name="effective_from_1" value="2027-01-01T00:00"' in text
    assert 'name="threshold_1" value="400"' in text
    assert 'name="warn_at_1" value="350"' in text
    assert 'name="effective_from_2" value=""' in text  # the empty row to type into
    assert re.search(r'id="target-row-0" class="in-force"', text)
    assert 'id="target-row-1" class="in-force"' not in text


def test_saving_replaces_the_schedule_in_the_orgs_time_zone(
    admin_client: Client, admin: Membership, latency: Kpi
) -> None:
    admin.org.timezone = "Europe/Berlin"
    admin.org.save()
    response = admin_client.post(
        url(latency),
        rows(
            {"effective_from": "2027-01-01T00:00", "threshold": "400", "warn_at": "350"},
            {"effective_from": "", "threshold": "", "warn_at": ""},  # blank rows are ignored
        ),
    )
    assert response.status_code == 302
    assert stored(latency) == [(datetime(2026, 12, 31, 23, tzinfo=UTC), 400.0, 350.0)]
    event = AuditEvent.objects.get(action="kpi.targets_changed", target_id=latency.pk)
    assert event.actor_id == str(admin.user.pk)
    # Saving an empty table clears the schedule.
    admin_client.post(url(latency), rows({"effective_from": "", "threshold": ""}))
    assert stored(latency) == []


@pytest.mark.parametrize(
    ("cells", "field", "says"),
    [
        (
            {"effective_from": "2027-01-01T00:00", "threshold": "400", "warn_at": "450"},
            "warn_at_1",
            "below the ceiling",
        ),
        ({"effective_from": "2027-01-01T00:00", "threshold": ""}, "threshold_1", "required"),
        ({"effective_from": "soon", "threshold": "400"}, "effective_from_1", "date and time"),
        ({"effective_from": "2027-01-01T00:00", "threshold": "four"}, "threshold_1", "number"),
        ({"effective_from": "2027-01-01T00:00", "threshold": "nan"}, "threshold_1", "number"),
        ({"effective_from": "2026-12-20T00:00", "threshold": "300"}, "effective_from_1", "entry 0"),
    ],
)  # fmt: skip
def test_a_bad_row_comes_back_with_its_message_and_nothing_is_written(
    admin_client: Client, latency: Kpi, cells: dict[str, str], field: str, says: str
) -> None:
    kpi_targets_replace(
        kpi=latency,
        actor=ACTOR,
        entries=[{"effective_from": "2027-06-01T00:00:00Z", "threshold": 1}],
    )
    before = stored(latency)
    first = {"effective_from": "2026-12-20T00:00", "threshold": "450", "warn_at": ""}
    response = admin_client.post(url(latency), rows(first, cells))
    assert response.status_code == 422
    text = response.content.decode()
    assert f'id="{field}-error"' in text
    message = re.search(rf'id="{field}-error">([^<]*)<', text)
    assert message is not None and says in message.group(1)
    assert stored(latency) == before
    # What was typed is kept, so the admin fixes only the bad cell.
    assert 'name="threshold_0" value="450"' in text


def test_add_and_remove_rows_rerender_the_table_without_saving(
    admin_client: Client, latency: Kpi
) -> None:
    typed = rows({"effective_from": "2027-01-01T00:00", "threshold": "400"})
    added = admin_client.post(url(latency), {**typed, "action": "add"}, headers=HTMX)
    text = added.content.decode()
    assert added.status_code == 200
    assert "<html" not in text  # htmx gets the table only
    assert 'name="threshold_0" value="400"' in text and 'name="threshold_1"' in text
    removed = admin_client.post(url(latency), {**typed, "action": "remove-0"}).content.decode()
    assert 'name="threshold_0"' not in removed
    assert stored(latency) == []


def test_members_get_403_and_another_orgs_kpi_is_404(
    admin_client: Client, member_client: Client, latency: Kpi
) -> None:
    assert member_client.get(url(latency)).status_code == 403
    data = rows({"effective_from": "2027-01-01T00:00", "threshold": "400"})
    assert member_client.post(url(latency), data).status_code == 403
    foreign = KpiFactory(shape="stay_below", threshold=500.0)
    assert admin_client.get(url(foreign)).status_code == 404
    assert admin_client.post(url(foreign), data).status_code == 404
    assert stored(latency) == [] and stored(foreign) == []


def test_the_tile_and_detail_show_the_target_in_force_and_the_next_change(
    admin_client: Client, latency: Kpi
) -> None:
    value_record(
        kpi=latency, value=450.0, observed_at=NOW - timedelta(days=20), source="api", actor=ACTOR
    )
    value_record(
        kpi=latency, value=430.0, observed_at=NOW - timedelta(days=1), source="api", actor=ACTOR
    )
    kpi_targets_replace(
        kpi=latency,
        actor=ACTOR,
        entries=[
            {"effective_from": "2026-12-01T00:00:00Z", "threshold": 480, "warn_at": 420},
            {"effective_from": "2027-01-01T00:00:00Z", "threshold": 400},
        ],
    )
    phrase = "stay below 480 ms · 400 ms from Jan 1, 2027"
    assert phrase in admin_client.get(reverse("web:home")).content.decode()
    detail = admin_client.get(reverse("web:kpi-detail", kwargs={"kpi_id": latency.pk}))
    text = detail.content.decode()
    assert phrase in text
    # The ceiling is a step line: 500 ms until 1 Dec, 480 ms from then (the points' span).
    step = re.search(
        r'<polyline class="chart-guide chart-guide-limit chart-step"[^>]*points="([^"]+)"', text
    )
    assert step is not None
    heights = {point.split(",")[1] for point in step.group(1).split()}
    assert len(heights) == 2
    assert "ceiling 480 ms" in text and "ceiling 500 ms" in text


# --- the chart, pure ------------------------------------------------------------------------

BELOW = ShapeParams(shape="stay_below", threshold=500.0, warn_at=450.0)
DEC = datetime(2026, 12, 1, tzinfo=UTC)


def chart(points: list[tuple[datetime, float]], entries: list[ScheduledTarget]) -> str:
    steps = schedule_steps(BELOW, entries, label=lambda v: f"{v:g}")
    return history_chart(points, title="t", tick_label=lambda v, s: f"{v:g}", schedule=steps)


def test_the_step_line_jumps_where_an_entry_comes_into_force() -> None:
    points = [(DEC - timedelta(days=10), 420.0), (DEC + timedelta(days=10), 430.0)]
    svg = chart(points, [ScheduledTarget(effective_from=DEC, threshold=400.0)])
    line = re.search(r'chart-step" fill="none" points="([^"]+)"', svg)
    assert line is not None
    coords = [tuple(map(float, p.split(","))) for p in line.group(1).split()]
    xs, ys = [x for x, _ in coords], [y for _, y in coords]
    assert len(coords) == 4 and xs[1] == xs[2]  # a vertical jump at 1 Dec, mid-chart
    assert ys[0] == ys[1] and ys[2] == ys[3] and ys[2] > ys[1]  # lower ceiling, lower line
    # The band of the first step (warn_at 450) ends where the entry without a band begins.
    assert svg.count('class="chart-band"') == 1
    assert "ceiling 400" in svg  # the label of the target in force at the right edge


def test_entries_outside_the_points_span_or_of_another_shape_are_not_drawn() -> None:
    points = [(DEC - timedelta(days=10), 420.0), (DEC - timedelta(days=5), 430.0)]
    later = [ScheduledTarget(effective_from=DEC, threshold=400.0)]
    svg = chart(points, later)
    line = re.search(r'chart-step" fill="none" points="([^"]+)"', svg)
    assert line is not None and len(line.group(1).split()) == 2
    stale = [ScheduledTarget(effective_from=DEC - timedelta(days=7), lower=1.0, upper=2.0)]
    assert "ceiling 500" in chart(points, stale) and "lower" not in chart(points, stale)


def test_one_point_draws_the_step_in_force_across_the_chart() -> None:
    svg = chart(
        [(DEC + timedelta(days=1), 420.0)], [ScheduledTarget(effective_from=DEC, threshold=400.0)]
    )
    assert "ceiling 400" in svg and "ceiling 500" not in svg


def test_home_reads_every_kpis_schedule_in_one_query(
    admin_client: Client, admin: Membership
) -> None:
    def home_queries(count: int) -> int:
        for _ in range(count):
            kpi = KpiFactory(org=admin.org, shape="stay_below", threshold=500.0)
            kpi_targets_replace(
                kpi=kpi,
                actor=ACTOR,
                entries=[{"effective_from": "2027-01-01T00:00:00Z", "threshold": 400}],
            )
        admin_client.get(reverse("web:home"))  # once-per-session work out of the count
        tile_cache_clear()  # counted cold: a cached tile turns cold when the minute changes
        with CaptureQueriesContext(connection) as captured:
            page = admin_client.get(reverse("web:home"))
        assert page.content.decode().count("· 400.0 from Jan 1, 2027") == Kpi.objects.count()
        return len(captured)

    assert home_queries(2) == home_queries(8)
