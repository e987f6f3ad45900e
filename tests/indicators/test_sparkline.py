"""The sparkline rollup: per-day averages in a sliding 90-day window, order-independent."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.sparkline import (
    add_point,
    from_daily_averages,
    from_points,
    series,
)

DAY = date(2026, 11, 24)


def test_points_on_one_day_average() -> None:
    buckets = add_point(add_point({}, DAY, 10.0), DAY, 20.0)
    assert series(buckets, DAY) == [(DAY, 15.0)]


def test_days_older_than_the_window_are_dropped() -> None:
    buckets = add_point({}, DAY - timedelta(days=120), 1.0)
    buckets = add_point(buckets, DAY, 2.0)
    assert series(buckets, DAY) == [(DAY, 2.0)]
    assert len(buckets) == 1


def test_late_point_outside_window_is_ignored() -> None:
    buckets = add_point({}, DAY, 2.0)
    assert add_point(buckets, DAY - timedelta(days=200), 9.0) == buckets


def test_garbage_buckets_are_ignored_not_raised() -> None:
    junk = {"not-a-date": [1, 1], "2026-11-24": "x", "2026-11-23": [2.0, 2]}
    assert series(junk, DAY) == [(DAY - timedelta(days=1), 2.0)]  # type: ignore[arg-type]


def test_rebuild_from_sql_averages_matches_incremental() -> None:
    points = [(DAY - timedelta(days=d % 5), float(d)) for d in range(40)]
    incremental = from_points(points)
    by_day: dict[date, list[float]] = {}
    for day, value in points:
        by_day.setdefault(day, []).append(value)
    rows = [(day, sum(v) / len(v), len(v)) for day, v in by_day.items()]
    assert series(from_daily_averages(rows), DAY) == series(incremental, DAY)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.floats(-1e9, 1e9, allow_nan=False)), max_size=60))
def test_order_of_writes_does_not_change_the_series(raw: list[tuple[int, float]]) -> None:
    points = [(DAY - timedelta(days=d), v) for d, v in raw]
    forward = series(from_points(points), DAY)
    buckets: dict[str, list[float]] = {}
    for day, value in reversed(points):
        buckets = add_point(buckets, day, value)
    backward = series(buckets, DAY)
    assert [d for d, _ in forward] == [d for d, _ in backward]
    for (_, a), (_, b) in zip(forward, backward, strict=True):
        assert abs(a - b) <= 1e-6 * max(1.0, abs(a))


def test_values_near_the_float_limit_do_not_overflow() -> None:
    import math

    big = 1.7976931348623155e308
    buckets = add_point(add_point({}, DAY, big), DAY, big)
    ((_, mean),) = series(buckets, DAY)
    assert math.isfinite(mean) and mean == big
