"""Every path that sets a KPI's status records the transition and ``status_since`` (DESIGN §12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.factories import KpiFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import (
    BatchItem,
    history_backfill,
    history_import,
    value_record,
    values_record_batch,
)
from pulseboard.indicators.models import Kpi, StatusChange
from pulseboard.indicators.services import kpi_spec, kpi_update
from pulseboard.indicators.spec import spec_patched
from pulseboard.indicators.status import Status, StatusCause
from pulseboard.indicators.status_changes import (
    StatusPeriod,
    status_apply,
    status_periods,
    status_transition,
)

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def clock() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def transitions(kpi: Kpi) -> list[tuple[str, str, datetime, str]]:
    return [
        (c.from_status, c.to_status, c.at, c.cause)
        for c in StatusChange.objects.filter(kpi=kpi).order_by("at", "id")
    ]


def record(kpi: Kpi, value: float, at: datetime | None = None) -> None:
    value_record(kpi=kpi, value=value, observed_at=at, source="api", actor=ACTOR)


def test_the_first_value_records_unknown_to_its_status_at_its_observed_time() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 5, NOW - HOUR)
    kpi.refresh_from_db()
    assert (kpi.status, kpi.status_since) == ("red", NOW - HOUR)
    assert transitions(kpi) == [("unknown", "red", NOW - HOUR, "value")]


def test_a_value_that_keeps_the_status_records_nothing_and_keeps_status_since() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 5, NOW - HOUR)
    record(kpi, 6)
    kpi.refresh_from_db()
    assert kpi.status_since == NOW - HOUR
    assert len(transitions(kpi)) == 1


def test_red_to_green_by_a_value_is_a_second_transition() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 5, NOW - HOUR)
    record(kpi, 15)
    kpi.refresh_from_db()
    assert (kpi.status, kpi.status_since) == ("green", NOW)
    assert transitions(kpi)[-1] == ("red", "green", NOW, "value")


def test_a_late_value_changes_neither_status_nor_its_record() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 15)
    record(kpi, 1, NOW - HOUR)
    kpi.refresh_from_db()
    assert kpi.status == "green"
    assert transitions(kpi) == [("unknown", "green", NOW, "value")]


def test_a_pull_rereading_the_same_value_records_nothing() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 15)
    value_record(
        kpi=kpi, value=15, observed_at=None, source="api", actor=ACTOR, record_unchanged=False
    )
    assert len(transitions(kpi)) == 1


def test_a_batch_records_each_transition() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    items = [BatchItem(kpi_id=kpi.pk, value=v) for v in (5.0, 15.0, 16.0, 2.0)]
    values_record_batch(org_id=kpi.org_id, items=items, actor=ACTOR, source="api")
    assert [(f, t) for f, t, _, _ in transitions(kpi)] == [
        ("unknown", "red"),
        ("red", "green"),
        ("green", "red"),
    ]


def test_a_definition_change_is_a_config_transition_at_the_time_of_the_edit(clock: Any) -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 12)
    clock.shift(HOUR)
    kpi.refresh_from_db()
    kpi_update(kpi=kpi, actor=ACTOR, spec=spec_patched(kpi_spec(kpi), {"threshold": 20}))
    kpi.refresh_from_db()
    assert (kpi.status, kpi.status_since) == ("red", NOW + HOUR)
    assert transitions(kpi)[-1] == ("green", "red", NOW + HOUR, "config")


def test_a_definition_change_that_keeps_the_status_records_nothing() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 12)
    kpi.refresh_from_db()
    kpi_update(kpi=kpi, actor=ACTOR, spec=spec_patched(kpi_spec(kpi), {"threshold": 11}))
    assert len(transitions(kpi)) == 1


def test_an_import_dates_the_status_from_the_start_of_its_last_run() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    points = [(NOW - 5 * HOUR, 15.0), (NOW - 4 * HOUR, 5.0), (NOW - 3 * HOUR, 6.0)]
    history_import(kpi=kpi, points=points, actor=ACTOR, source="import")
    kpi.refresh_from_db()
    assert (kpi.status, kpi.status_since) == ("red", NOW - 4 * HOUR)
    assert transitions(kpi) == [("unknown", "red", NOW - 4 * HOUR, "value")]


def test_a_backfill_dates_the_status_from_the_start_of_its_last_run() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    points = [(NOW - 5 * HOUR, 5.0), (NOW - 4 * HOUR, 15.0), (NOW - 3 * HOUR, 16.0)]
    history_backfill(kpi=kpi, points=points, actor=ACTOR, source="demo")
    kpi.refresh_from_db()
    assert (kpi.status, kpi.status_since) == ("green", NOW - 4 * HOUR)


def test_a_transition_never_goes_back_before_the_current_status_began() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10, status="red", status_since=NOW)
    change = status_transition(kpi, Status.GREEN, at=NOW - HOUR, cause=StatusCause.VALUE)
    assert change is not None and change.at == NOW
    assert kpi.status_since == NOW


def test_status_apply_without_a_change_writes_nothing() -> None:
    kpi = KpiFactory(status="green", status_since=NOW)
    assert not status_apply(kpi, "green", at=NOW + HOUR, cause=StatusCause.TIME)
    assert kpi.status_since == NOW
    assert not StatusChange.objects.exists()


def test_status_periods_cover_the_range_from_the_period_running_at_its_start() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 5, NOW - 5 * HOUR)
    record(kpi, 15, NOW - 3 * HOUR)
    record(kpi, 1, NOW - HOUR)
    periods = status_periods(org_id=kpi.org_id, kpi_id=kpi.pk, since=NOW - 4 * HOUR)
    assert periods == [
        StatusPeriod(Status.RED, NOW - 4 * HOUR, NOW - 3 * HOUR, StatusCause.VALUE),
        StatusPeriod(Status.GREEN, NOW - 3 * HOUR, NOW - HOUR, StatusCause.VALUE),
        StatusPeriod(Status.RED, NOW - HOUR, None, StatusCause.VALUE),
    ]


def test_status_periods_of_another_org_are_not_read() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    record(kpi, 5)
    other = KpiFactory()
    assert status_periods(org_id=other.org_id, kpi_id=kpi.pk) == []
