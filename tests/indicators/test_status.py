"""Status, freshness and change rules of DESIGN §2 (indicators/status.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.shapes import ShapeParams
from pulseboard.indicators.status import (
    Change,
    Status,
    change_since,
    evaluate,
    is_stale,
    move_is_good,
)

GREEN, YELLOW, RED, UNKNOWN = Status.GREEN, Status.YELLOW, Status.RED, Status.UNKNOWN
NAN, INF = math.nan, math.inf


def below(x: float) -> float:
    return math.nextafter(x, -INF)


def above(x: float) -> float:
    return math.nextafter(x, INF)


ABOVE = ShapeParams("stay_above", threshold=99.9)
ABOVE_WARN = ShapeParams("stay_above", threshold=99.9, warn_at=99.95)
BELOW = ShapeParams("stay_below", threshold=500)
BELOW_WARN = ShapeParams("stay_below", threshold=500, warn_at=400)
BETWEEN = ShapeParams("stay_between", lower=3, upper=7)
BETWEEN_WARN = ShapeParams("stay_between", lower=3, upper=7, warn_margin=0.5)
UP = ShapeParams("trend", direction="up", baseline=100)
UP_WARN = ShapeParams("trend", direction="up", baseline=100, warn_margin=10)
DOWN = ShapeParams("trend", direction="down", baseline=100)
DOWN_WARN = ShapeParams("trend", direction="down", baseline=100, warn_margin=10)
ROLLING_UP = ShapeParams(
    "trend", direction="up", baseline_mode="prior_period", baseline_period="7d"
)


def test_status_values_are_the_api_values() -> None:
    assert [s.value for s in Status] == ["green", "yellow", "red", "unknown"]


@pytest.mark.parametrize("value", [99.9, above(99.9), 100, 1e300])
def test_stay_above_is_green_at_or_above_floor(value: float) -> None:
    assert evaluate(ABOVE, value) is GREEN


@pytest.mark.parametrize("value", [below(99.9), 0, -1e300])
def test_stay_above_is_red_just_below_floor(value: float) -> None:
    assert evaluate(ABOVE, value) is RED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (below(99.9), RED),
        (99.9, YELLOW),
        (below(99.95), YELLOW),
        (99.95, GREEN),
        (100, GREEN),
    ],
)
def test_stay_above_warning_band_is_yellow_from_floor_up_to_warn_at(
    value: float, expected: Status
) -> None:
    assert evaluate(ABOVE_WARN, value) is expected


@pytest.mark.parametrize("value", [500, below(500), 0, -5])
def test_stay_below_is_green_at_or_below_ceiling(value: float) -> None:
    assert evaluate(BELOW, value) is GREEN


@pytest.mark.parametrize("value", [above(500), 501, 1e300])
def test_stay_below_is_red_just_above_ceiling(value: float) -> None:
    assert evaluate(BELOW, value) is RED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (400, GREEN),
        (above(400), YELLOW),
        (500, YELLOW),
        (above(500), RED),
        (0, GREEN),
    ],
)
def test_stay_below_warning_band_is_yellow_above_warn_at_up_to_ceiling(
    value: float, expected: Status
) -> None:
    assert evaluate(BELOW_WARN, value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (below(3), RED),
        (3, GREEN),
        (5, GREEN),
        (7, GREEN),
        (above(7), RED),
    ],
)
def test_stay_between_is_green_inside_inclusive_bounds_and_red_outside(
    value: float, expected: Status
) -> None:
    assert evaluate(BETWEEN, value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (below(3), RED),
        (3, YELLOW),
        (below(3.5), YELLOW),
        (3.5, GREEN),
        (5, GREEN),
        (6.5, GREEN),
        (above(6.5), YELLOW),
        (7, YELLOW),
        (above(7), RED),
    ],
)
def test_stay_between_is_yellow_inside_within_margin_of_either_bound(
    value: float, expected: Status
) -> None:
    assert evaluate(BETWEEN_WARN, value) is expected


def test_stay_between_single_point_band_is_green_only_at_that_point() -> None:
    point = ShapeParams("stay_between", lower=5, upper=5, warn_margin=0)
    assert [evaluate(point, v) for v in (below(5), 5, above(5))] == [RED, GREEN, RED]


@pytest.mark.parametrize(
    ("params", "value", "expected"),
    [
        (UP, 100, GREEN),
        (UP, 150, GREEN),
        (UP, below(100), RED),
        (DOWN, 100, GREEN),
        (DOWN, 50, GREEN),
        (DOWN, above(100), RED),
    ],
)
def test_trend_is_red_when_moved_against_its_direction(
    params: ShapeParams, value: float, expected: Status
) -> None:
    assert evaluate(params, value) is expected


@pytest.mark.parametrize(
    ("params", "value", "expected"),
    [
        (UP_WARN, below(100), RED),
        (UP_WARN, 100, YELLOW),
        (UP_WARN, below(110), YELLOW),
        (UP_WARN, 110, GREEN),
        (DOWN_WARN, above(100), RED),
        (DOWN_WARN, 100, YELLOW),
        (DOWN_WARN, above(90), YELLOW),
        (DOWN_WARN, 90, GREEN),
    ],
)
def test_trend_is_yellow_within_margin_of_baseline_on_the_good_side(
    params: ShapeParams, value: float, expected: Status
) -> None:
    assert evaluate(params, value) is expected


def test_trend_baseline_argument_overrides_the_fixed_baseline() -> None:
    assert evaluate(UP, 90) is RED
    assert evaluate(UP, 90, baseline=80) is GREEN


@pytest.mark.parametrize(
    ("baseline", "expected"),
    [(None, UNKNOWN), (80.0, GREEN), (120.0, RED), (NAN, UNKNOWN), (INF, UNKNOWN)],
)
def test_trend_prior_period_uses_only_the_passed_baseline(
    baseline: float | None, expected: Status
) -> None:
    with_stale_fixed_value = ShapeParams(
        "trend", direction="up", baseline=0, baseline_mode="prior_period", baseline_period="7d"
    )
    assert evaluate(ROLLING_UP, 100, baseline=baseline) is expected
    assert evaluate(with_stale_fixed_value, 100, baseline=baseline) is expected


@pytest.mark.parametrize("value", [None, NAN, INF, -INF])
@pytest.mark.parametrize("params", [ABOVE, BELOW_WARN, BETWEEN, UP_WARN])
def test_no_finite_value_is_unknown(params: ShapeParams, value: float | None) -> None:
    assert evaluate(params, value) is UNKNOWN


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(ShapeParams("stay_above"), id="missing_threshold"),
        pytest.param(ShapeParams("stay_below", threshold=NAN), id="nan_threshold"),
        pytest.param(ShapeParams("stay_between", lower=3), id="missing_upper"),
        pytest.param(ShapeParams("stay_between", lower=7, upper=3), id="inverted_band"),
        pytest.param(ShapeParams("trend", direction="up"), id="missing_baseline"),
        pytest.param(ShapeParams("trend", baseline=1), id="missing_direction"),
        pytest.param(ShapeParams("trend", direction="left", baseline=1), id="bad_direction"),
        pytest.param(ShapeParams("stay_around", threshold=1), id="unknown_shape"),
    ],
)
def test_unusable_parameters_are_unknown(params: ShapeParams) -> None:
    assert evaluate(params, 5) is UNKNOWN


@pytest.mark.parametrize(
    ("params", "value", "expected"),
    [
        (ShapeParams("stay_above", threshold=10, warn_at=5), 10, GREEN),
        (ShapeParams("stay_below", threshold=10, warn_at=15), 10, GREEN),
        (ShapeParams("stay_between", lower=0, upper=10, warn_margin=-1), 0, GREEN),
        (ShapeParams("trend", direction="up", baseline=0, warn_margin=NAN), 0, GREEN),
    ],
)
def test_evaluate_ignores_a_warning_band_that_does_not_fit(
    params: ShapeParams, value: float, expected: Status
) -> None:
    assert evaluate(params, value) is expected


any_float = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=200, deadline=None)
@given(
    shape=st.sampled_from(["stay_above", "stay_below", "stay_between", "trend", "nope"]),
    numbers=st.lists(st.one_of(st.none(), any_float), min_size=6, max_size=6),
    direction=st.sampled_from(["up", "down", None, "x"]),
    mode=st.sampled_from(["fixed", "prior_period", "x"]),
    value=st.one_of(st.none(), any_float),
    baseline=st.one_of(st.none(), any_float),
)
def test_evaluate_never_raises_for_any_float(
    shape: str,
    numbers: list[float | None],
    direction: str | None,
    mode: str,
    value: float | None,
    baseline: float | None,
) -> None:
    threshold, lower, upper, fixed, warn_at, margin = numbers
    params = ShapeParams(
        shape,
        threshold=threshold,
        lower=lower,
        upper=upper,
        direction=direction,
        baseline=fixed,
        baseline_mode=mode,
        warn_at=warn_at,
        warn_margin=margin,
    )
    assert evaluate(params, value, baseline=baseline) in set(Status)


@settings(max_examples=200, deadline=None)
@given(
    threshold=st.floats(allow_nan=False, allow_infinity=False),
    value=st.floats(allow_nan=False, allow_infinity=False),
)
def test_stay_above_and_stay_below_agree_at_every_point(threshold: float, value: float) -> None:
    above_status = evaluate(ShapeParams("stay_above", threshold=threshold), value)
    below_status = evaluate(ShapeParams("stay_below", threshold=threshold), value)
    assert (above_status is GREEN) == (value >= threshold)
    assert (below_status is GREEN) == (value <= threshold)


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("age", "expected_every", "stale"),
    [
        (timedelta(minutes=59), HOUR, False),
        (HOUR, HOUR, False),
        (HOUR + timedelta(seconds=1), HOUR, True),
        (timedelta(days=3), timedelta(days=1), True),
        (timedelta(days=300), None, False),
        (timedelta(days=300), timedelta(0), False),
        (timedelta(days=300), -HOUR, False),
        (-HOUR, HOUR, False),
    ],
)
def test_value_is_stale_when_older_than_expected_every(
    age: timedelta, expected_every: timedelta | None, stale: bool
) -> None:
    assert is_stale(observed_at=NOW - age, now=NOW, expected_every=expected_every) is stale


@pytest.mark.parametrize(
    ("since_success", "stale"),
    [
        (None, True),
        (HOUR, False),
        (3 * HOUR, False),
        (3 * HOUR + timedelta(seconds=1), True),
        (timedelta(days=2), True),
    ],
)
def test_pull_source_is_stale_after_three_intervals_without_success(
    since_success: timedelta | None, stale: bool
) -> None:
    last = None if since_success is None else NOW - since_success
    result = is_stale(
        observed_at=NOW - timedelta(minutes=5),
        now=NOW,
        expected_every=None,
        pull_interval=HOUR,
        last_success_at=last,
    )
    assert result is stale


def test_fresh_pull_does_not_hide_an_old_value() -> None:
    result = is_stale(
        observed_at=NOW - timedelta(days=2),
        now=NOW,
        expected_every=timedelta(days=1),
        pull_interval=HOUR,
        last_success_at=NOW,
    )
    assert result is True


@pytest.mark.parametrize(
    ("expected_every", "pull_interval", "last_success_at"),
    [(HOUR, None, None), (HOUR, HOUR, None), (None, HOUR, NOW - timedelta(days=9))],
)
def test_no_value_is_never_stale_it_is_unknown(
    expected_every: timedelta | None,
    pull_interval: timedelta | None,
    last_success_at: datetime | None,
) -> None:
    result = is_stale(
        observed_at=None,
        now=NOW,
        expected_every=expected_every,
        pull_interval=pull_interval,
        last_success_at=last_success_at,
    )
    assert result is False


def test_zero_pull_interval_counts_as_not_set() -> None:
    assert not is_stale(observed_at=NOW, now=NOW, expected_every=None, pull_interval=timedelta(0))


def test_huge_pull_interval_is_never_stale_and_never_overflows() -> None:
    result = is_stale(
        observed_at=NOW,
        now=NOW,
        expected_every=None,
        pull_interval=timedelta(days=900_000_000),
        last_success_at=datetime(1, 1, 1, tzinfo=UTC),
    )
    assert result is False


def test_staleness_reads_naive_datetimes_as_utc() -> None:
    naive_old = datetime(2025, 6, 1, 9, 0)
    assert is_stale(observed_at=naive_old, now=NOW, expected_every=HOUR) is True


@pytest.mark.parametrize(
    ("params", "delta", "good"),
    [
        (ABOVE, 1.0, True),
        (ABOVE, -1.0, False),
        (BELOW, 1.0, False),
        (BELOW, -1.0, True),
        (UP, 1.0, True),
        (UP, -1.0, False),
        (DOWN, 1.0, False),
        (DOWN, -1.0, True),
        (ABOVE, 0.0, None),
        (BELOW, NAN, None),
        (ShapeParams("trend", baseline=1), 1.0, None),
        (ShapeParams("stay_around"), 1.0, None),
    ],
)
def test_move_is_good_follows_the_shapes_good_direction(
    params: ShapeParams, delta: float, good: bool | None
) -> None:
    assert move_is_good(params, delta) is good


@pytest.mark.parametrize(
    ("previous", "delta", "good"),
    [
        (3.0, 1.0, True),
        (7.0, -1.0, True),
        (4.0, -1.0, False),
        (6.0, 1.0, False),
        (1.0, 1.0, True),
        (10.0, 1.0, False),
        (4.0, 2.0, None),
        (5.0, 0.0, None),
    ],
)
def test_stay_between_move_is_good_when_it_ends_closer_to_the_middle(
    previous: float, delta: float, good: bool | None
) -> None:
    assert move_is_good(BETWEEN, delta, previous=previous) is good


def test_stay_between_move_without_previous_has_no_opinion() -> None:
    assert move_is_good(BETWEEN, 1.0) is None


@pytest.mark.parametrize(
    ("params", "current", "previous", "expected"),
    [
        (BELOW, 7220, 7600, Change(absolute=-380, percent=-5.0, good=True)),
        (ABOVE, 110, 100, Change(absolute=10, percent=10.0, good=True)),
        (ABOVE, 5, 0, Change(absolute=5, percent=None, good=True)),
        (UP, 100, 100, Change(absolute=0, percent=0.0, good=None)),
        (UP, -5, -10, Change(absolute=5, percent=50.0, good=True)),
        (DOWN, -15, -10, Change(absolute=-5, percent=-50.0, good=True)),
        (BETWEEN, 5, 8, Change(absolute=-3, percent=-37.5, good=True)),
        (BETWEEN, 2, 4, Change(absolute=-2, percent=-50.0, good=False)),
    ],
)
def test_change_since_gives_absolute_percent_and_goodness(
    params: ShapeParams, current: float, previous: float, expected: Change
) -> None:
    assert change_since(params, current, previous) == expected


@pytest.mark.parametrize(
    ("current", "previous"),
    [(None, 1.0), (1.0, None), (None, None), (NAN, 1.0), (1.0, INF), (1e308, -1e308)],
)
def test_change_since_is_none_without_two_finite_values(
    current: float | None, previous: float | None
) -> None:
    assert change_since(ABOVE, current, previous) is None


def test_change_since_drops_a_percent_that_overflows() -> None:
    change = change_since(ABOVE, 1e300, 1e-300)
    assert change is not None
    assert change.percent is None
    assert change.good is True


@settings(max_examples=200, deadline=None)
@given(current=any_float, previous=any_float)
def test_change_since_never_raises(current: float, previous: float) -> None:
    change = change_since(BETWEEN, current, previous)
    if change is not None:
        assert math.isfinite(change.absolute)
        assert change.percent is None or math.isfinite(change.percent)
