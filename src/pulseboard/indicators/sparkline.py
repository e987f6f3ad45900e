"""Pure: the per-day rollup behind sparklines (no Django, no I/O).

A KPI keeps ``{"YYYY-MM-DD": [mean, count], ...}`` for the last ``WINDOW_DAYS``
UTC days. Each value write adds to its day's bucket inside the same row update
that stores the value, so Home draws sparklines without reading history rows.
Averages are order-independent, so late writes land in their day correctly. A
running mean (not a sum) is kept so values near the float limit cannot overflow.
"""

from __future__ import annotations

from datetime import date, timedelta

WINDOW_DAYS = 90
Buckets = dict[str, list[float]]


def add_point(
    buckets: Buckets, day: date, value: float, *, window_days: int = WINDOW_DAYS
) -> Buckets:
    """A new rollup with ``value`` added to ``day``; days outside the window are dropped."""
    updated = {key: list(pair) for key, pair in (buckets or {}).items() if _valid(key, pair)}
    newest = max([day, *(date.fromisoformat(k) for k in updated)])
    oldest = newest - timedelta(days=window_days - 1)
    if day >= oldest:
        mean, count = updated.get(day.isoformat(), [0.0, 0])
        # Weighted terms are each bounded by the larger input: no overflow to inf.
        updated[day.isoformat()] = [
            mean * (count / (count + 1)) + value / (count + 1),
            int(count) + 1,
        ]
    return {k: v for k, v in updated.items() if date.fromisoformat(k) >= oldest}


def from_points(points: list[tuple[date, float]], *, window_days: int = WINDOW_DAYS) -> Buckets:
    buckets: Buckets = {}
    for day, value in sorted(points):
        buckets = add_point(buckets, day, value, window_days=window_days)
    return buckets


def from_daily_averages(
    rows: list[tuple[date, float, int]], *, window_days: int = WINDOW_DAYS
) -> Buckets:
    """Rebuild from (day, average, count) rows, as a SQL downsample returns them."""
    if not rows:
        return {}
    newest = max(day for day, _, _ in rows)
    oldest = newest - timedelta(days=window_days - 1)
    return {day.isoformat(): [avg, count] for day, avg, count in rows if day >= oldest and count}


def series(
    buckets: Buckets, today: date, *, window_days: int = WINDOW_DAYS
) -> list[tuple[date, float]]:
    """Daily averages within the window ending ``today``, oldest first."""
    # ISO dates order as strings, so the window test needs no parsing; only kept
    # days are parsed (this runs for every tile on every Home render).
    first = (today - timedelta(days=window_days - 1)).isoformat()
    last = today.isoformat()
    points = []
    for key, pair in (buckets or {}).items():
        if not isinstance(key, str) or not first <= key <= last:
            continue
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        mean, count = pair
        if not isinstance(count, int | float) or count <= 0 or not isinstance(mean, int | float):
            continue
        try:
            day = date.fromisoformat(key)
        except ValueError:
            continue
        points.append((day, float(mean)))
    points.sort()
    return points


def _valid(key: object, pair: object) -> bool:
    if not isinstance(key, str) or not isinstance(pair, list) or len(pair) != 2:
        return False
    try:
        date.fromisoformat(key)
    except ValueError:
        return False
    return isinstance(pair[1], int | float) and pair[1] > 0
