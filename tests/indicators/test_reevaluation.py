"""The time pass (DESIGN §12): KPIs whose moment has come are judged again, exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.services import history_backfill, value_record
from pulseboard.indicators.models import Kpi, StatusChange, TargetEntry
from pulseboard.indicators.reevaluation import (
    PassOutcome,
    kpi_reevaluate_save,
    reevaluate_all_due,
    reevaluate_due,
)
from pulseboard.indicators.services import kpi_spec, kpi_update
from pulseboard.indicators.spec import spec_patched
from pulseboard.indicators.status import StatusCause
from pulseboard.indicators.time_triggers import RESOLUTION

ACTOR = Actor.system("test")
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def rolling_kpi(**fields: Any) -> Kpi:
    """Trend up against the value 7 days back: 50 (10 d ago), 90 (6 d ago), 70 (1 d ago)."""
    kpi = KpiFactory(
        shape="trend",
        threshold=None,
        direction="up",
        baseline_mode="prior_period",
        baseline_period="7d",
        **fields,
    )
    points = [(NOW - 10 * DAY, 50.0), (NOW - 6 * DAY, 90.0), (NOW - DAY, 70.0)]
    history_backfill(kpi=kpi, points=points, actor=ACTOR, source="demo")
    kpi.refresh_from_db()
    return kpi


def causes(kpi: Kpi) -> list[tuple[str, str, datetime, str]]:
    rows = StatusChange.objects.filter(kpi=kpi).order_by("at", "id")
    return [(c.from_status, c.to_status, c.at, c.cause) for c in rows]


@pytest.mark.django_db
def test_expected_every_sets_the_moment_the_value_turns_stale(clock: Any) -> None:
    kpi = KpiFactory(expected_every="1h")
    value_record(kpi=kpi, value=12, observed_at=None, source="api", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.reevaluate_at == NOW + HOUR + RESOLUTION


@pytest.mark.django_db
def test_nothing_is_judged_before_its_moment(clock: Any) -> None:
    kpi = KpiFactory(expected_every="1h")
    value_record(kpi=kpi, value=12, observed_at=None, source="api", actor=ACTOR)
    clock.shift(HOUR)
    assert reevaluate_due(now=NOW + HOUR) == PassOutcome(0, 0, 0)
    kpi.refresh_from_db()
    assert kpi.reevaluate_at == NOW + HOUR + RESOLUTION


@pytest.mark.django_db
def test_a_kpi_turning_stale_is_touched_for_live_pages_with_no_transition(clock: Any) -> None:
    kpi = KpiFactory(expected_every="1h")
    value_record(kpi=kpi, value=12, observed_at=None, source="api", actor=ACTOR)
    kpi.refresh_from_db()
    before = kpi.updated_at
    later = NOW + HOUR + timedelta(seconds=30)
    clock.move_to(later)
    assert reevaluate_due(now=later) == PassOutcome(claimed=1, changed=0, touched=1)
    kpi.refresh_from_db()
    assert kpi.updated_at == later > before
    assert kpi.status == "green" and len(causes(kpi)) == 1
    assert kpi.reevaluate_at is None  # nothing more can change until a new value


@pytest.mark.django_db
def test_a_rolling_baseline_changes_the_status_with_time_alone(clock: Any) -> None:
    kpi = rolling_kpi()
    # Now the baseline is 50 (10 d ago): 70 is green; 90 becomes the baseline in 1 day.
    assert kpi.status == "green"
    assert kpi.reevaluate_at == NOW + DAY
    clock.move_to(NOW + DAY + timedelta(seconds=20))
    outcome = reevaluate_due(now=NOW + DAY + timedelta(seconds=20))
    assert outcome == PassOutcome(claimed=1, changed=1, touched=1)
    kpi.refresh_from_db()
    assert (kpi.status, kpi.status_since) == ("red", NOW + DAY + timedelta(seconds=20))
    assert causes(kpi)[-1][1:] == ("red", NOW + DAY + timedelta(seconds=20), "time")
    # The next row (70, 1 d ago) becomes the baseline 7 days after it was observed.
    assert kpi.reevaluate_at == NOW + 6 * DAY
    event = AuditEvent.objects.get(action="kpi.status_changed", target_id=kpi.pk)
    assert (event.before, event.after) == (
        {"status": "green"},
        {"status": "red", "cause": "time"},
    )
    clock.move_to(NOW + 6 * DAY)
    reevaluate_due(now=NOW + 6 * DAY)
    kpi.refresh_from_db()
    assert kpi.status == "green"  # 70 against itself: no move is not a move against


@pytest.mark.django_db
def test_a_scheduled_target_coming_into_force_is_a_config_transition(clock: Any) -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    value_record(kpi=kpi, value=12, observed_at=None, source="api", actor=ACTOR)
    TargetEntry.objects.create(org=kpi.org, kpi=kpi, effective_from=NOW + 2 * HOUR, threshold=20)
    kpi_reevaluate_save(kpi=kpi, now=NOW, cause=StatusCause.CONFIG)
    assert kpi.reevaluate_at == NOW + 2 * HOUR
    clock.move_to(NOW + 2 * HOUR + timedelta(seconds=5))
    reevaluate_due(now=NOW + 2 * HOUR + timedelta(seconds=5))
    kpi.refresh_from_db()
    assert kpi.status == "red"
    assert causes(kpi)[-1][1:] == ("red", NOW + 2 * HOUR + timedelta(seconds=5), "config")
    assert kpi.reevaluate_at is None


@pytest.mark.django_db
def test_a_value_observed_in_the_past_is_due_at_once(clock: Any) -> None:
    kpi = KpiFactory(shape="stay_above", threshold=10)
    value_record(kpi=kpi, value=12, observed_at=NOW - HOUR, source="api", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.reevaluate_at == NOW
    assert reevaluate_due(now=NOW).claimed == 1
    kpi.refresh_from_db()
    assert kpi.reevaluate_at is None


@pytest.mark.django_db
def test_an_earlier_pending_moment_survives_a_value_write(clock: Any) -> None:
    kpi = rolling_kpi(expected_every="30d")
    assert kpi.reevaluate_at == NOW + DAY
    clock.shift(HOUR)
    value_record(kpi=kpi, value=75, observed_at=None, source="api", actor=ACTOR)
    kpi.refresh_from_db()
    assert kpi.reevaluate_at == NOW + DAY


@pytest.mark.django_db
def test_changing_expected_every_moves_the_moment(clock: Any) -> None:
    kpi = KpiFactory(expected_every="1h")
    value_record(kpi=kpi, value=12, observed_at=None, source="api", actor=ACTOR)
    kpi.refresh_from_db()
    kpi_update(kpi=kpi, actor=ACTOR, spec=spec_patched(kpi_spec(kpi), {"expected_every": "1d"}))
    kpi.refresh_from_db()
    assert kpi.reevaluate_at == NOW + DAY + RESOLUTION


@pytest.mark.django_db
def test_a_pass_takes_at_most_its_limit_and_the_whole_pass_takes_all(clock: Any) -> None:
    kpis = [KpiFactory(expected_every="1h") for _ in range(5)]
    for kpi in kpis:
        value_record(kpi=kpi, value=12, observed_at=None, source="api", actor=ACTOR)
    later = NOW + 2 * HOUR
    assert reevaluate_due(now=later, limit=2).claimed == 2
    assert reevaluate_all_due(now=later, batch=2) == PassOutcome(claimed=3, changed=0, touched=3)
    assert not Kpi.objects.filter(reevaluate_at__isnull=False).exists()


def due_batch(per_org: int) -> list[Kpi]:
    """In each of two orgs, ``per_org`` rolling trends (red at NOW + 1 d) and ``per_org``
    KPIs whose value turns stale an hour after NOW; made at NOW."""
    kpis = []
    for _ in range(2):
        org = OrganizationFactory()
        for _ in range(per_org):
            kpis.append(rolling_kpi(org=org))
            stale = KpiFactory(org=org, expected_every="1h")
            value_record(kpi=stale, value=12, observed_at=None, source="api", actor=ACTOR)
            kpis.append(stale)
    return kpis


@pytest.mark.django_db
def test_a_batch_costs_the_same_statements_however_many_kpis_it_holds(clock: Any) -> None:
    due = NOW + DAY + timedelta(seconds=20)
    counts = []
    for per_org in (1, 4):
        clock.move_to(NOW)
        kpis = due_batch(per_org)
        clock.move_to(due)
        with CaptureQueriesContext(connection) as queries:
            outcome = reevaluate_due(now=due, limit=100)
        counts.append(len(queries))
        assert outcome == PassOutcome(claimed=4 * per_org, changed=2 * per_org, touched=4 * per_org)
        for kpi in kpis:
            kpi.refresh_from_db()
            if kpi.shape == "trend":
                assert (kpi.status, kpi.status_since, kpi.updated_at) == ("red", due, due)
                assert causes(kpi)[-1] == ("green", "red", due, "time")
                assert kpi.reevaluate_at == NOW + 6 * DAY
            else:
                assert (kpi.status, kpi.updated_at, kpi.reevaluate_at) == ("green", due, None)
    # Claim, targets per org, baselines per org and period, three writes: 1 KPI or 4 alike.
    assert counts[0] == counts[1]
    assert AuditEvent.objects.filter(action="kpi.status_changed").count() == 2 + 8


@pytest.mark.django_db
def test_a_pass_leaves_updated_at_of_a_kpi_it_did_not_change(clock: Any) -> None:
    kpi = rolling_kpi(expected_every="30d")
    kpi.reevaluate_at = NOW - HOUR  # due, though neither status nor staleness moves
    kpi.save(update_fields=["reevaluate_at"])
    kpi.refresh_from_db()
    before = kpi.updated_at
    clock.move_to(NOW + HOUR)
    assert reevaluate_due(now=NOW + HOUR) == PassOutcome(claimed=1, changed=0, touched=0)
    kpi.refresh_from_db()
    assert (kpi.status, kpi.updated_at, kpi.reevaluate_at) == ("green", before, NOW + DAY)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_passes_on_postgresql_judge_each_kpi_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer")
    with time_machine.travel(NOW, tick=False):
        kpis = [rolling_kpi() for _ in range(40)]
    due = NOW + DAY + timedelta(seconds=1)
    start = threading.Barrier(2)
    outcomes: list[PassOutcome] = []
    errors: list[BaseException] = []

    def one_pass() -> None:
        try:
            start.wait(timeout=10)
            # Small batches, so the two passes interleave over several transactions.
            outcomes.append(reevaluate_all_due(now=due, batch=5))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(o.claimed for o in outcomes) == 40
    assert sum(o.changed for o in outcomes) == 40
    for kpi in kpis:
        assert [c for c in causes(kpi) if c[3] == "time"] == [("green", "red", due, "time")]
