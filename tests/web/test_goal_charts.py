"""Goal drawings (web/goal_charts.py): pure, total, escaped, CSP-safe SVG."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulseboard.goals.progress import cycle_window
from pulseboard.web.goal_charts import ChartPoint, percent, progress_bar, progress_chart

WINDOW = cycle_window(date(2027, 1, 1), date(2027, 3, 31), "UTC")
MID = datetime(2027, 2, 15, 12, tzinfo=UTC)


def width_of(svg: str, css: str) -> float:
    match = re.search(rf'class="{css}"[^>]*width="([\d.]+)"', svg)
    assert match, svg
    return float(match.group(1))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.455, "46%"),
        (0, "0%"),
        (1, "100%"),
        (1.7, "100%"),
        (-1, "0%"),
        (None, "—"),
        (math.nan, "—"),
    ],
)
def test_percent(value: float | None, text: str) -> None:
    assert percent(value) == text


def test_the_bar_fills_to_progress_and_marks_the_expected_point() -> None:
    svg = progress_bar(0.25, 0.5, label="25% done, 50% expected by now")
    assert width_of(svg, "goal-bar-fill") == 50.0  # a quarter of 200
    assert 'x1="100.0"' in svg  # the expected tick halfway
    assert 'aria-label="25% done, 50% expected by now"' in svg and "style=" not in svg


def test_a_bar_without_value_or_expectation_draws_only_the_track() -> None:
    svg = progress_bar(None, None, label="no value yet")
    assert "goal-bar-fill" not in svg and "goal-bar-expected" not in svg
    assert "goal-bar-track" in svg


@given(
    st.one_of(st.none(), st.floats()),
    st.one_of(st.none(), st.floats()),
    st.text(max_size=30),
)
def test_the_bar_is_total_and_escapes_its_label(
    progress: float | None, expected: float | None, label: str
) -> None:
    svg = progress_bar(progress, expected, label=label)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg
    assert not re.search(r'="-?(nan|inf)', svg)  # no attribute is a non-number


def test_the_chart_draws_the_expected_line_progress_steps_and_today() -> None:
    points = [
        ChartPoint(datetime(2027, 1, 10, tzinfo=UTC), 0.1),
        ChartPoint(datetime(2027, 2, 1, tzinfo=UTC), 0.4),
    ]
    svg = progress_chart(
        points, window=WINDOW, kind="increase_to", now=MID, timezone="UTC", title="T <&>"
    )
    assert 'aria-label="T &lt;&amp;&gt;"' in svg
    # Increase: the expected line rises from 0% at the start to 100% at the end.
    assert re.search(r'class="goal-chart-expected" points="48,270\.0 884,14\.0"', svg)
    assert "goal-chart-today" in svg and svg.count('class="chart-dot"') == 2
    assert ">1 Jan<" in svg and ">31 Mar<" in svg  # the last label is the cycle's last day


def test_a_stay_kind_expects_a_flat_full_line() -> None:
    svg = progress_chart([], window=WINDOW, kind="stay_below", now=MID, timezone="UTC", title="T")
    assert re.search(r'class="goal-chart-expected" points="48,14\.0 884,14\.0"', svg)
    assert "goal-chart-line" not in svg


def test_after_the_cycle_there_is_no_today_line_and_points_stay_inside() -> None:
    late = ChartPoint(datetime(2027, 6, 1, tzinfo=UTC), 1.0)
    svg = progress_chart(
        [late],
        window=WINDOW,
        kind="increase_to",
        now=late.at + timedelta(days=1),
        timezone="UTC",
        title="T",
    )
    assert "goal-chart-today" not in svg
    xs = [float(x) for x in re.findall(r'cx="([\d.]+)"', svg)]
    assert xs and all(48 <= x <= 884 for x in xs)


@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
            st.one_of(st.none(), st.floats()),
        ),
        max_size=8,
    ),
    st.sampled_from(["increase_to", "decrease_to", "stay_above", "stay_below"]),
)
def test_the_chart_is_total(points: list[tuple[datetime, float | None]], kind: str) -> None:
    chart_points = [ChartPoint(at.replace(tzinfo=UTC), value) for at, value in points]
    svg = progress_chart(
        chart_points, window=WINDOW, kind=kind, now=MID, timezone="Nowhere/Else", title="x"
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "nan" not in svg
    assert "inf" not in svg
