"""Recording a batch of pull outcomes in one transaction (``pull_outcomes_record``).

Each item must come out exactly as if it had been recorded alone: value, status and
status change, history and audit, attempt row, schedule and lease; a dropped or
refused item changes nothing of the others.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.factories import KpiFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors import pull_services
from pulseboard.connectors.models import PullAttempt, Source
from pulseboard.connectors.pull_services import (
    PullOutcome,
    pull_outcomes_record,
    source_claim_due,
)
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi, StatusChange

pytestmark = pytest.mark.django_db


def due_kpis(count: int) -> list[Kpi]:
    kpis = [
        KpiFactory(source="https_get", shape="stay_above", threshold=10.0) for _ in range(count)
    ]
    Source.objects.filter(kpi__in=kpis).update(
        config={"url": "https://example.test/v", "json_path": "$.value"},
        next_pull_at=clock.now() - timedelta(seconds=1),
    )
    return kpis


def claim(kpis: list[Kpi]) -> dict[str, Source]:
    claimed = source_claim_due(owner="w", now=clock.now(), limit=100, lease_seconds=30)
    by_kpi = {source.kpi_id: source for source in claimed}
    assert set(by_kpi) == {kpi.pk for kpi in kpis}
    return by_kpi


def outcome(
    source: Source, value: float | None = None, error: str = "", **kw: object
) -> PullOutcome:
    return PullOutcome(
        source_id=source.pk,
        kind=source.kind,
        started_at=clock.now(),
        duration_ms=3,
        value=value,
        error=error,
        **kw,  # type: ignore[arg-type]
    )


def test_each_item_of_a_batch_is_recorded_as_if_alone() -> None:
    green, red, failing, rebound = due_kpis(4)
    sources = claim([green, red, failing, rebound])
    Source.objects.filter(kpi=rebound).update(config={"url": "https://example.test/other"})
    before = {kpi.pk: Kpi.objects.get(pk=kpi.pk).updated_at for kpi in (green, red)}
    records = pull_outcomes_record(
        items=[
            (sources[green.pk], outcome(sources[green.pk], 12)),
            (sources[red.pk], outcome(sources[red.pk], 5)),
            (sources[failing.pk], outcome(sources[failing.pk], error="HTTP 500")),
            (sources[rebound.pk], outcome(sources[rebound.pk], 7)),
        ],
        owner="w",
    )
    assert [r.recorded for r in records] == [True, True, True, False]
    assert [r.changed for r in records] == [True, True, False, False]
    assert [r.error for r in records][:3] == ["", "", "HTTP 500"]
    now = {kpi.pk: Kpi.objects.get(pk=kpi.pk) for kpi in (green, red, failing, rebound)}
    assert (now[green.pk].current_value, now[green.pk].status) == (12, "green")
    assert (now[red.pk].current_value, now[red.pk].status) == (5, "red")
    assert now[failing.pk].current_value is None and now[rebound.pk].current_value is None
    for pk in (green.pk, red.pk):
        assert now[pk].updated_at > before[pk]  # live pages and tiles see the change
        assert KpiHistory.objects.filter(kpi_id=pk).count() == 1
        assert AuditEvent.objects.filter(target_id=pk, action="value.recorded").count() == 1
        assert StatusChange.objects.filter(kpi_id=pk).count() == 1
    assert not KpiHistory.objects.filter(kpi_id__in=[failing.pk, rebound.pk]).exists()
    attempts = dict(PullAttempt.objects.values_list("source__kpi_id", "ok"))
    assert attempts == {green.pk: True, red.pk: True, failing.pk: False}
    after = {source.kpi_id: source for source in Source.objects.filter(kpi__in=list(now.values()))}
    for pk in (green.pk, red.pk, failing.pk, rebound.pk):
        assert after[pk].lease_owner == "" and after[pk].leased_until is None
    assert after[failing.pk].consecutive_failures == 1
    assert after[failing.pk].last_error == "HTTP 500"
    assert after[green.pk].last_success_at is not None and after[green.pk].last_error == ""
    assert after[green.pk].next_pull_at > clock.now()
    assert after[rebound.pk].last_pulled_at is None  # dropped: its schedule is untouched


def test_a_re_read_writes_no_history_and_a_late_value_goes_to_history_only() -> None:
    same, late = due_kpis(2)
    actor = Actor.system("test")
    value_record(kpi=same, value=12, observed_at=None, source="manual", actor=actor)
    value_record(kpi=late, value=20, observed_at=None, source="manual", actor=actor)
    sources = claim([same, late])
    an_hour_ago = clock.now() - timedelta(hours=1)
    records = pull_outcomes_record(
        items=[
            (sources[same.pk], outcome(sources[same.pk], 12)),
            (sources[late.pk], outcome(sources[late.pk], 3, observed_at=an_hour_ago)),
        ],
        owner="w",
    )
    assert [r.changed for r in records] == [False, True]
    assert KpiHistory.objects.filter(kpi=same).count() == 1  # only the manual value
    kept = Kpi.objects.get(pk=late.pk)
    assert (kept.current_value, kept.status) == (20, "green")  # not moved backwards
    assert KpiHistory.objects.filter(kpi=late, value=3, observed_at=an_hour_ago).exists()


def test_a_refused_value_is_that_pull_s_error_only() -> None:
    good, bad = due_kpis(2)
    sources = claim([good, bad])
    future = clock.now() + timedelta(days=1)
    records = pull_outcomes_record(
        items=[
            (sources[bad.pk], outcome(sources[bad.pk], 1, observed_at=future)),
            (sources[good.pk], outcome(sources[good.pk], 15)),
        ],
        owner="w",
    )
    assert records[0].error.startswith("value refused:") and records[1].error == ""
    assert Kpi.objects.get(pk=bad.pk).current_value is None
    assert Kpi.objects.get(pk=good.pk).current_value == 15
    assert Source.objects.get(kpi=bad).consecutive_failures == 1


def test_a_batch_prunes_each_source_to_its_newest_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pulseboard.connectors.pull_services.PRUNE_ONE_IN", 1)
    kept = pull_services.ATTEMPTS_KEPT
    first, second, few = due_kpis(3)
    sources = claim([first, second, few])
    start = clock.now() - timedelta(days=1)
    for kpi, count in ((first, kept + 7), (second, kept + 1), (few, 3)):
        source = sources[kpi.pk]
        PullAttempt.objects.bulk_create(
            PullAttempt(
                org_id=source.org_id,
                source=source,
                started_at=start + timedelta(minutes=n),
                ok=True,
                value=n,
            )
            for n in range(count)
        )
    pull_outcomes_record(
        items=[(sources[kpi.pk], outcome(sources[kpi.pk], 12)) for kpi in (first, second, few)],
        owner="w",
    )
    for kpi, total in ((first, kept), (second, kept), (few, 4)):
        attempts = PullAttempt.objects.filter(source__kpi=kpi).order_by("-started_at")
        assert attempts.count() == total
        # The newest is this batch's pull; the oldest ones went first.
        assert attempts[0].value == 12
    oldest_kept = PullAttempt.objects.filter(source__kpi=first).order_by("started_at").first()
    assert oldest_kept is not None and oldest_kept.value == 7 + 1
