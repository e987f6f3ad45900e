"""Value writes judged by the targets in force when the value was observed (DESIGN §13):
single writes (late ones too), batches, imports and backfills, each reading a KPI's
schedule once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.factories import KpiFactory

from pulseboard.core.actors import Actor
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import (
    BatchItem,
    history_backfill,
    history_import,
    value_record,
    values_record_batch,
)
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.targets_services import kpi_targets_replace

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
# From 1 Feb the ceiling drops from 500 to 400: 450 is green before, red after.
CHANGE = datetime(2027, 2, 1, tzinfo=UTC)
BEFORE, AFTER = CHANGE - timedelta(days=3), CHANGE + timedelta(days=3)


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def latency() -> Kpi:
    kpi = KpiFactory(shape="stay_below", threshold=500.0)
    kpi_targets_replace(
        kpi=kpi, actor=ACTOR, entries=[{"effective_from": CHANGE, "threshold": 400.0}]
    )
    return kpi


def row_status(kpi: Kpi, when: datetime) -> str:
    return KpiHistory.objects.get(kpi=kpi, observed_at=when).status


def test_a_value_is_judged_by_the_target_in_force_when_it_was_observed(latency: Kpi) -> None:
    value_record(kpi=latency, value=450.0, observed_at=BEFORE, source="api", actor=ACTOR)
    assert row_status(latency, BEFORE) == "green"
    value_record(kpi=latency, value=450.0, observed_at=AFTER, source="api", actor=ACTOR)
    assert row_status(latency, AFTER) == "red"
    latency.refresh_from_db()
    assert latency.status == "red"


def test_a_late_write_is_judged_by_the_target_of_its_own_time(latency: Kpi) -> None:
    value_record(kpi=latency, value=380.0, observed_at=AFTER, source="api", actor=ACTOR)
    write = value_record(kpi=latency, value=450.0, observed_at=BEFORE, source="api", actor=ACTOR)
    assert write.applied is False
    # Under today's 400 ceiling 450 would be red; on its own day the ceiling was 500.
    assert row_status(latency, BEFORE) == "green"
    latency.refresh_from_db()
    assert (latency.current_value, latency.status) == (380.0, "green")


def test_a_value_at_the_very_instant_of_the_change_uses_the_new_target(latency: Kpi) -> None:
    value_record(kpi=latency, value=450.0, observed_at=CHANGE, source="api", actor=ACTOR)
    assert row_status(latency, CHANGE) == "red"
    value_record(
        kpi=latency,
        value=450.0,
        observed_at=CHANGE - timedelta(microseconds=1),
        source="api",
        actor=ACTOR,
    )
    assert row_status(latency, CHANGE - timedelta(microseconds=1)) == "green"


def test_a_batch_judges_each_value_by_its_own_kpis_schedule(latency: Kpi) -> None:
    plain = KpiFactory(org=latency.org, shape="stay_below", threshold=500.0)
    writes = values_record_batch(
        org_id=latency.org_id,
        items=[
            BatchItem(kpi_id=latency.pk, value=450.0, observed_at=BEFORE),
            BatchItem(kpi_id=latency.pk, value=450.0, observed_at=AFTER),
            BatchItem(kpi_id=plain.pk, value=450.0, observed_at=AFTER),
        ],
        actor=ACTOR,
        source="api",
    )
    assert [w.history.status for w in writes if w.history] == ["green", "red", "green"]


def test_an_import_judges_each_row_by_the_target_of_its_time(latency: Kpi) -> None:
    points = [(BEFORE + timedelta(hours=n), 450.0) for n in range(0, 24 * 6, 6)]
    history_import(kpi=latency, points=points, actor=ACTOR, source="import")
    statuses = dict(KpiHistory.objects.filter(kpi=latency).values_list("observed_at", "status"))
    assert {when for when, status in statuses.items() if status == "green"} == {
        when for when, _ in points if when < CHANGE
    }
    assert {when for when, status in statuses.items() if status == "red"} == {
        when for when, _ in points if when >= CHANGE
    }


def test_an_import_reads_the_schedule_once_whatever_the_number_of_rows(latency: Kpi) -> None:
    twin = KpiFactory(org=latency.org, shape="stay_below", threshold=500.0)
    kpi_targets_replace(
        kpi=twin, actor=ACTOR, entries=[{"effective_from": CHANGE, "threshold": 400.0}]
    )

    def queries_for(kpi: Kpi, rows: int) -> int:
        # Rows on both sides of the change, the newest after it, as for the other KPI.
        points = [(AFTER - timedelta(minutes=n), 450.0) for n in range(0, rows * 60, 60)]
        points.append((BEFORE, 450.0))
        with CaptureQueriesContext(connection) as captured:
            history_import(kpi=kpi, points=points, actor=ACTOR, source="import")
        return len(captured)

    assert queries_for(latency, 3) == queries_for(twin, 60)


def test_a_backfill_judges_each_row_by_the_target_of_its_time(latency: Kpi) -> None:
    history_backfill(
        kpi=latency, points=[(BEFORE, 450.0), (AFTER, 450.0)], actor=ACTOR, source="demo"
    )
    assert (row_status(latency, BEFORE), row_status(latency, AFTER)) == ("green", "red")


def test_a_scheduled_baseline_judges_a_fixed_trend(latency: Kpi) -> None:
    trend = KpiFactory(
        org=latency.org, shape="trend", threshold=None, direction="up", baseline=100.0
    )
    kpi_targets_replace(
        kpi=trend, actor=ACTOR, entries=[{"effective_from": CHANGE, "baseline": 200.0}]
    )
    value_record(kpi=trend, value=150.0, observed_at=BEFORE, source="api", actor=ACTOR)
    value_record(kpi=trend, value=150.0, observed_at=AFTER, source="api", actor=ACTOR)
    assert (row_status(trend, BEFORE), row_status(trend, AFTER)) == ("green", "red")
