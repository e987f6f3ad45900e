"""Reads of goals (goals/selectors.py): KPI-linked values at read time, the value at a closed
cycle's end, objective roll-up, progress points, the Goals board, constant query counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from tests.factories import (
    CheckInFactory,
    CycleFactory,
    KeyResultFactory,
    KpiFactory,
    KpiHistoryFactory,
    ObjectiveFactory,
    OrganizationFactory,
)

from pulseboard.core.actors import Actor
from pulseboard.core.errors import NotFound
from pulseboard.goals.models import Cycle, KeyResult, Objective
from pulseboard.goals.selectors import (
    cycle_get,
    goal_board,
    key_result_cards,
    key_result_get,
    key_result_progress,
    key_results_following,
    objective_cards,
    objective_get,
    objective_list,
)
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Organization

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 2, 15, 12, tzinfo=UTC)  # the middle of Q1 2027 (45.5 of 90 days)


def q1(org: Organization, **changes: Any) -> Cycle:
    fields = {"name": "Q1 2027", "starts_on": date(2027, 1, 1), "ends_on": date(2027, 3, 31)}
    return CycleFactory(org=org, **{**fields, **changes})


def card_of(key_result: KeyResult, now: datetime = NOW) -> Any:
    fresh = key_result_get(org=key_result.org, key_result_id=key_result.pk)
    (card,) = key_result_cards(org=key_result.org, key_results=[fresh], now=now)
    return card


def record(kpi: Kpi, value: float, at: datetime) -> None:
    value_record(kpi=kpi, value=value, observed_at=at, source="api", actor=Actor.system())


def test_a_kpi_linked_key_result_reads_the_kpis_current_value() -> None:
    kpi = KpiFactory(title="Retention", unit_type="percentage", display_format="decimal_1")
    objective = ObjectiveFactory(cycle=q1(kpi.org))
    key_result = KeyResultFactory(objective=objective, kpi=kpi, start_value=85, target_value=92)
    assert card_of(key_result).status == "unknown"
    with time_machine.travel(NOW, tick=False):
        record(kpi, 88.5, NOW - timedelta(hours=1))
    card = card_of(key_result)
    assert card.current_value == 88.5 and card.progress == pytest.approx(0.5)
    assert card.formatted_current == "88.5%" and card.formatted_target == "92.0%"
    assert card.target_phrase == "from 85.0% to 92.0%"
    assert card.status == "on_track"  # expected 0.5056, progress 0.5
    # A value that lands later moves the key result on the very next read.
    with time_machine.travel(NOW, tick=False):
        record(kpi, 86.0, NOW)
    assert card_of(key_result).status == "behind"


def test_a_closed_cycle_keeps_the_kpis_value_at_its_end() -> None:
    kpi = KpiFactory()
    cycle = q1(kpi.org)
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=cycle), kpi=kpi, start_value=0, target_value=10
    )
    end = datetime(2027, 4, 1, tzinfo=UTC)
    KpiHistoryFactory(kpi=kpi, value=7, observed_at=end - timedelta(days=3))
    KpiHistoryFactory(kpi=kpi, value=10, observed_at=end - timedelta(microseconds=1))
    KpiHistoryFactory(kpi=kpi, value=2, observed_at=end)  # the first moment after the cycle
    Kpi.objects.filter(pk=kpi.pk).update(current_value=2)
    after = datetime(2027, 5, 1, tzinfo=UTC)
    card = card_of(key_result, after)
    assert card.current_value == 10 and card.status == "achieved"
    # While the cycle ran, the current value counted.
    assert card_of(key_result, datetime(2027, 3, 30, tzinfo=UTC)).current_value == 2


def test_a_closed_cycle_without_history_before_its_end_is_unknown() -> None:
    kpi = KpiFactory()
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=q1(kpi.org)), kpi=kpi)
    Kpi.objects.filter(pk=kpi.pk).update(current_value=50)
    assert card_of(key_result, datetime(2027, 6, 1, tzinfo=UTC)).status == "unknown"


def test_a_closed_cycle_with_a_manual_key_result_short_of_target_is_missed() -> None:
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=q1(OrganizationFactory())), current_value=60
    )
    assert card_of(key_result, datetime(2027, 4, 1, tzinfo=UTC)).status == "missed"


def test_a_linked_key_result_borrows_the_kpis_units() -> None:
    kpi = KpiFactory(unit_type="currency", unit_label="EUR", display_format="integer")
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=q1(kpi.org)),
        kpi=kpi,
        unit_type="time",
        unit_label="h",
        start_value=1000,
        target_value=2000,
    )
    assert card_of(key_result).formatted_target == "€2,000"


def test_the_cycle_state_follows_the_orgs_timezone() -> None:
    org = OrganizationFactory(timezone="Pacific/Auckland")  # UTC+13 in January
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=q1(org)), current_value=0, start_value=0
    )
    # 31 Dec 2026 12:00 UTC is already 1 Jan 2027 01:00 in Auckland: the cycle has begun.
    assert card_of(key_result, datetime(2026, 12, 31, 12, tzinfo=UTC)).evaluation.state == "active"
    utc = KeyResultFactory(
        objective=ObjectiveFactory(cycle=q1(OrganizationFactory())), current_value=0
    )
    assert card_of(utc, datetime(2026, 12, 31, 12, tzinfo=UTC)).evaluation.state == "upcoming"


def test_objective_progress_is_weighted_and_status_is_the_worst() -> None:
    objective = ObjectiveFactory(cycle=q1(OrganizationFactory()))
    KeyResultFactory(objective=objective, current_value=50, weight=3)  # 0.5: on track
    KeyResultFactory(objective=objective, current_value=30, weight=1)  # 0.3: at risk
    KeyResultFactory(objective=objective, current_value=None, weight=10)  # unknown: ignored
    fresh = objective_get(org=objective.org, objective_id=objective.pk)
    (card,) = objective_cards(org=objective.org, objectives=[fresh], now=NOW)
    assert card.progress == pytest.approx((0.5 * 3 + 0.3) / 4)
    assert card.status == "at_risk" and card.status_text == "At risk"
    assert [kr.status for kr in card.key_results] == ["on_track", "at_risk", "unknown"]


def test_manual_progress_points_are_the_check_ins_oldest_first() -> None:
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=q1(OrganizationFactory())), target_value=10
    )
    CheckInFactory(key_result=key_result, value=5, created_at=datetime(2027, 2, 1, tzinfo=UTC))
    CheckInFactory(key_result=key_result, value=2, created_at=datetime(2027, 1, 10, tzinfo=UTC))
    CheckInFactory(key_result=key_result, value=12, created_at=datetime(2027, 4, 3, tzinfo=UTC))
    points = key_result_progress(org=key_result.org, key_result=key_result, now=NOW)
    assert [p.value for p in points] == [2, 5, 12]  # a late check-in after the end counts
    assert [p.progress for p in points] == [0.2, 0.5, 1.0]
    assert points[0].expected == pytest.approx(9 / 90) and points[-1].expected == 1.0


def test_linked_progress_points_are_the_kpis_history_inside_the_cycle() -> None:
    kpi = KpiFactory()
    key_result = KeyResultFactory(
        objective=ObjectiveFactory(cycle=q1(kpi.org)), kpi=kpi, start_value=0, target_value=10
    )
    start = datetime(2027, 1, 1, tzinfo=UTC)
    KpiHistoryFactory(kpi=kpi, value=1, observed_at=start - timedelta(days=5))  # value at start
    KpiHistoryFactory(kpi=kpi, value=3, observed_at=start + timedelta(days=9))
    KpiHistoryFactory(kpi=kpi, value=6, observed_at=NOW - timedelta(days=1))
    KpiHistoryFactory(kpi=kpi, value=9, observed_at=NOW + timedelta(days=1))  # not yet
    other = KpiHistoryFactory(value=5, observed_at=start + timedelta(days=2))  # another KPI
    points = key_result_progress(org=kpi.org, key_result=key_result, now=NOW)
    assert [(p.at, p.value) for p in points][:1] == [(start, 1)]
    assert [p.value for p in points] == [1, 3, 6] and other.kpi_id != kpi.pk
    assert points[0].expected == 0.0


def test_many_linked_points_become_daily_averages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pulseboard.goals.selectors.RAW_POINTS_LIMIT", 3)
    kpi = KpiFactory()
    key_result = KeyResultFactory(objective=ObjectiveFactory(cycle=q1(kpi.org)), kpi=kpi)
    for hour in (1, 2, 3, 4):
        KpiHistoryFactory(
            kpi=kpi, value=hour * 10, observed_at=datetime(2027, 1, 5, hour, tzinfo=UTC)
        )
    KpiHistoryFactory(kpi=kpi, value=70, observed_at=datetime(2027, 1, 6, 1, tzinfo=UTC))
    points = key_result_progress(org=kpi.org, key_result=key_result, now=NOW)
    assert [p.value for p in points] == [25, 70]


def test_the_board_shows_open_cycles_in_full_active_first() -> None:
    org = OrganizationFactory()
    year = CycleFactory(
        org=org, name="2027", starts_on=date(2027, 1, 1), ends_on=date(2027, 12, 31)
    )
    quarter = q1(org)
    upcoming = CycleFactory(
        org=org, name="Q2", starts_on=date(2027, 4, 1), ends_on=date(2027, 6, 30)
    )
    closed = CycleFactory(
        org=org, name="Q4 2026", starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31)
    )
    ObjectiveFactory(cycle=closed, title="Old news")
    ObjectiveFactory(cycle=quarter, title="This quarter")
    CycleFactory(name="Theirs")  # another org
    shown, others = goal_board(org=org, now=NOW)
    assert [b.cycle.pk for b in shown] == [quarter.pk, year.pk, upcoming.pk]
    assert [b.state for b in shown] == ["active", "active", "upcoming"]
    assert [b.cycle.pk for b in others] == [closed.pk] and others[0].objectives == []
    assert [o.objective.title for o in shown[0].objectives] == ["This quarter"]
    one, rest = goal_board(org=org, now=NOW, cycle=closed)
    assert [o.objective.title for o in one[0].objectives] == ["Old news"] and len(rest) == 3


def build(org: Organization, objectives: int, key_results: int) -> None:
    cycle = q1(org)
    closed = CycleFactory(org=org, starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31))
    for _ in range(objectives):
        for target in (cycle, closed):
            objective = ObjectiveFactory(cycle=target)
            for _ in range(key_results):
                KeyResultFactory(objective=objective, kpi=KpiFactory(org=org))
                KeyResultFactory(objective=objective, current_value=4)


def count_queries(django_assert_num_queries: Any, call: Any, expected: int) -> None:
    with django_assert_num_queries(expected):
        call()


@pytest.mark.parametrize("size", [(1, 1), (6, 4)])
def test_reads_take_a_constant_number_of_queries(
    django_assert_num_queries: Any, size: tuple[int, int]
) -> None:
    org = OrganizationFactory()
    build(org, *size)
    # Board: cycles, objectives, key results (KPI and owner joined).
    count_queries(django_assert_num_queries, lambda: goal_board(org=org, now=NOW), 3)
    # Every objective of both cycles: + one query for the closed cycle's end values.
    every = list(objective_list(org=org))
    count_queries(
        django_assert_num_queries,
        lambda: objective_cards(org=org, objectives=every, now=NOW),
        2,
    )


def test_key_results_following_a_kpi() -> None:
    kpi = KpiFactory()
    mine = KeyResultFactory(objective=ObjectiveFactory(cycle=q1(kpi.org)), kpi=kpi)
    KeyResultFactory(objective=ObjectiveFactory(cycle=q1(kpi.org)))
    cards = key_results_following(org=kpi.org, kpi=kpi, now=NOW)
    assert [c.key_result.pk for c in cards] == [mine.pk]


@pytest.mark.parametrize("bad", ["nope-not-here", "bad\x00id", "é", "x" * 40, ""])
def test_lookups_are_scoped_and_refuse_odd_ids(bad: str) -> None:
    key_result = KeyResultFactory()
    other = OrganizationFactory()
    for call in (
        lambda: cycle_get(org=other, cycle_id=key_result.objective.cycle_id),
        lambda: objective_get(org=other, objective_id=key_result.objective_id),
        lambda: key_result_get(org=other, key_result_id=key_result.pk),
        lambda: cycle_get(org=key_result.org, cycle_id=bad),
        lambda: objective_get(org=key_result.org, objective_id=bad),
        lambda: key_result_get(org=key_result.org, key_result_id=bad),
    ):
        with pytest.raises(NotFound):
            call()
    assert Objective.objects.count() == 1
