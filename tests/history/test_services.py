"""The value sink: ordering rule, history rows, status and audit in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.core.errors import ValidationFailed
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import history_backfill, value_record

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


def test_write_updates_value_status_history_and_audit() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    result = value_record(kpi=kpi, value=9.5, observed_at=None, source="manual", actor=ACTOR)
    kpi.refresh_from_db()
    assert (kpi.current_value, kpi.status) == (9.5, "red")
    assert result.applied and result.history is not None
    row = KpiHistory.objects.get(kpi=kpi)
    assert (row.value, row.status, row.source) == (9.5, "red", "manual")
    assert AuditEvent.objects.filter(action="value.recorded", target_id=kpi.pk).count() == 1


def test_late_write_goes_to_history_but_does_not_move_current_value() -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    now = timezone.now()
    value_record(kpi=kpi, value=20, observed_at=now, source="api", actor=ACTOR)
    late = value_record(
        kpi=kpi, value=5, observed_at=now - timedelta(hours=1), source="api", actor=ACTOR
    )
    kpi.refresh_from_db()
    assert kpi.current_value == 20 and kpi.observed_at == now
    assert not late.applied
    assert KpiHistory.objects.filter(kpi=kpi).count() == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "12", None, True, [1]])
def test_non_finite_or_non_number_value_is_rejected_and_writes_nothing(bad: object) -> None:
    kpi = KpiFactory()
    with pytest.raises(ValidationFailed):
        value_record(kpi=kpi, value=bad, observed_at=None, source="api", actor=ACTOR)  # type: ignore[arg-type]
    assert not KpiHistory.objects.filter(kpi=kpi).exists()
    assert not AuditEvent.objects.filter(action="value.recorded").exists()


def test_observed_at_far_in_future_is_rejected() -> None:
    kpi = KpiFactory()
    with pytest.raises(ValidationFailed):
        value_record(
            kpi=kpi,
            value=1,
            observed_at=timezone.now() + timedelta(hours=1),
            source="api",
            actor=ACTOR,
        )


def test_unchanged_pull_refreshes_freshness_without_history_row() -> None:
    kpi = KpiFactory()
    first = timezone.now() - timedelta(minutes=10)
    value_record(kpi=kpi, value=3, observed_at=first, source="https_get", actor=ACTOR)
    result = value_record(
        kpi=kpi, value=3, observed_at=None, source="https_get", actor=ACTOR, record_unchanged=False
    )
    kpi.refresh_from_db()
    assert not result.changed
    assert kpi.observed_at > first
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1


@pytest.mark.django_db(transaction=True)
def test_failed_audit_rolls_back_the_whole_write(monkeypatch: pytest.MonkeyPatch) -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)

    def boom(**kwargs: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr("pulseboard.history.services.audit_record", boom)
    with pytest.raises(RuntimeError):
        value_record(kpi=kpi, value=50, observed_at=None, source="manual", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.current_value is None and kpi.status == "unknown"
    assert not KpiHistory.objects.filter(kpi=kpi).exists()


def test_prior_period_trend_uses_value_one_period_ago_as_baseline() -> None:
    kpi = KpiFactory(
        shape="trend",
        threshold=None,
        direction="down",
        baseline_mode="prior_period",
        baseline_period="7d",
    )
    now = timezone.now()
    value_record(kpi=kpi, value=100, observed_at=now - timedelta(days=8), source="api", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.status == "unknown"  # history does not reach back 7 days yet
    value_record(kpi=kpi, value=90, observed_at=now, source="api", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.status == "green"
    value_record(
        kpi=kpi, value=110, observed_at=now + timedelta(seconds=1), source="api", actor=ACTOR
    )
    kpi.refresh_from_db()
    assert kpi.status == "red"


def test_backfill_imports_rows_with_status_and_sets_newest_value() -> None:
    kpi = KpiFactory(shape="stay_below", threshold=5)
    now = timezone.now()
    points = [(now - timedelta(days=d), float(d)) for d in range(10)]
    assert history_backfill(kpi=kpi, points=points, actor=ACTOR, source="demo") == 10
    kpi.refresh_from_db()
    assert kpi.current_value == 0.0 and kpi.status == "green"
    statuses = dict(KpiHistory.objects.filter(kpi=kpi).values_list("value", "status"))
    assert statuses[9.0] == "red" and statuses[5.0] == "green"
    assert AuditEvent.objects.filter(action="history.backfilled", target_id=kpi.pk).count() == 1


def test_writes_keep_the_sparkline_rollup_and_rebuild_agrees() -> None:
    from pulseboard.history.services import sparkline_rebuild
    from pulseboard.indicators.sparkline import series

    kpi = KpiFactory()
    now = timezone.now()
    for hours, value in [(50, 1.0), (49, 3.0), (1, 10.0)]:
        value_record(
            kpi=kpi,
            value=value,
            observed_at=now - timedelta(hours=hours),
            source="api",
            actor=ACTOR,
        )
    kpi.refresh_from_db()
    incremental = series(kpi.sparkline, now.date())
    assert sum(count for _, count in kpi.sparkline.values()) == 3
    sparkline_rebuild(kpi=kpi)
    kpi.refresh_from_db()
    rebuilt = series(kpi.sparkline, now.date())
    assert [d for d, _ in rebuilt] == [d for d, _ in incremental]
    assert [round(v, 6) for _, v in rebuilt] == [round(v, 6) for _, v in incremental]


@pytest.mark.parametrize("extreme", [1.7976931348623155e308, -1.7976931348623155e308, 5e-324])
def test_extreme_finite_values_are_recorded(extreme: float) -> None:
    kpi = KpiFactory()
    value_record(kpi=kpi, value=extreme, observed_at=None, source="api", actor=ACTOR)
    value_record(kpi=kpi, value=extreme, observed_at=None, source="api", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.current_value == extreme
