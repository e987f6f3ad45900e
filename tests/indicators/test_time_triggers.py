"""The moments time alone changes a KPI: staleness, the rolling baseline, scheduled targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pulseboard.indicators.status import is_stale
from pulseboard.indicators.time_triggers import (
    RESOLUTION,
    baseline_moves_at,
    came_due,
    earliest,
    next_reevaluation,
    stale_from,
)

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)


def test_stale_from_is_the_first_instant_is_stale_says_yes() -> None:
    moment = stale_from(T0, HOUR)
    assert moment == T0 + HOUR + RESOLUTION
    assert not is_stale(observed_at=T0, now=moment - RESOLUTION, expected_every=HOUR)
    assert is_stale(observed_at=T0, now=moment, expected_every=HOUR)


@pytest.mark.parametrize("every", [None, timedelta(0), -HOUR])
def test_no_or_non_positive_expected_every_never_turns_stale(every: timedelta | None) -> None:
    assert stale_from(T0, every) is None


def test_no_value_never_turns_stale() -> None:
    assert stale_from(None, HOUR) is None


def test_a_naive_time_is_read_as_utc() -> None:
    assert stale_from(T0.replace(tzinfo=None), HOUR) == T0 + HOUR + RESOLUTION


def test_moments_beyond_the_calendar_are_no_moment() -> None:
    far = datetime.max.replace(tzinfo=UTC) - HOUR
    assert stale_from(far, timedelta(days=2)) is None
    assert stale_from(T0, timedelta.max) is None
    assert baseline_moves_at(far, WEEK) is None


def test_a_row_becomes_the_rolling_baseline_one_period_after_it_was_observed() -> None:
    assert baseline_moves_at(T0, WEEK) == T0 + WEEK
    assert baseline_moves_at(None, WEEK) is None
    assert baseline_moves_at(T0, None) is None
    assert baseline_moves_at(T0, timedelta(0)) is None


def test_earliest_ignores_missing_and_past_moments() -> None:
    assert earliest([None, T0 + HOUR, T0 - HOUR], after=T0) == T0 + HOUR
    assert earliest([None, T0 - HOUR], after=T0) is None
    assert earliest([T0 - HOUR, T0 + HOUR]) == T0 - HOUR
    assert earliest([]) is None


def test_next_reevaluation_is_the_earliest_future_moment_of_the_three() -> None:
    now = T0 + 2 * HOUR
    common = {"now": now, "baseline_period": WEEK}
    # Stale in 1 h, baseline moves in 3 h, a target comes in 5 h: the staleness first.
    assert (
        next_reevaluation(
            **common,
            observed_at=now,
            expected_every=HOUR,
            next_row_at=now - WEEK + 3 * HOUR,
            next_target_from=now + 5 * HOUR,
        )
        == now + HOUR + RESOLUTION
    )
    # Already stale: the staleness is no longer a moment; the baseline is.
    assert (
        next_reevaluation(
            **common,
            observed_at=now - 2 * HOUR,
            expected_every=HOUR,
            next_row_at=now - WEEK + 3 * HOUR,
            next_target_from=now + 5 * HOUR,
        )
        == now + 3 * HOUR
    )
    assert (
        next_reevaluation(
            **common,
            observed_at=None,
            expected_every=None,
            next_row_at=None,
            next_target_from=now + 5 * HOUR,
        )
        == now + 5 * HOUR
    )


def test_nothing_time_based_means_no_moment() -> None:
    assert (
        next_reevaluation(
            now=T0,
            observed_at=T0,
            expected_every=None,
            baseline_period=None,
            next_row_at=T0,
            next_target_from=None,
        )
        is None
    )


def test_a_moment_exactly_now_is_not_next_it_has_come() -> None:
    assert (
        next_reevaluation(
            now=T0 + WEEK,
            observed_at=None,
            expected_every=None,
            baseline_period=WEEK,
            next_row_at=T0,
            next_target_from=T0 + WEEK,
        )
        is None
    )


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (None, False),
        (T0 - RESOLUTION, False),  # before the previous moment: accounted for already
        (T0, True),
        (T0 + HOUR, True),
        (T0 + 2 * HOUR, True),
        (T0 + 2 * HOUR + RESOLUTION, False),  # still to come
    ],
)
def test_came_due_between_the_previous_moment_and_now(
    moment: datetime | None, expected: bool
) -> None:
    assert came_due(moment, since=T0, now=T0 + 2 * HOUR) is expected
