"""Server-side SVG charts: well-formed, escaped, style-free, total on any input."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.shapes import ShapeParams
from pulseboard.web.charts import (
    MAX_TICKS,
    Band,
    Guide,
    ValueLabels,
    chart_guides,
    history_chart,
    nice_ticks,
    sparkline,
)

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 1, 1, tzinfo=UTC)
finite = st.floats(allow_nan=False, allow_infinity=False)


def parse(svg: str) -> ET.Element:
    # Inline SVG carries no namespace; add it so ElementTree reads it as SVG.
    return ET.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def days(values: list[float]) -> list[tuple[date, float]]:
    return [(date(2026, 1, 1) + timedelta(days=i), v) for i, v in enumerate(values)]


def plain(value: float, step: float = 0.0) -> str:
    return f"{value:g}"


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0, 1, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (99.9, 100, [99.9, 99.92, 99.94, 99.96, 99.98, 100.0]),
        (-3, 7, [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0]),
        (0.1, 0.3, [0.1, 0.15, 0.2, 0.25, 0.3]),
    ],
)
def test_ticks_are_round_numbers_covering_the_range(
    lo: float, hi: float, expected: list[float]
) -> None:
    assert nice_ticks(lo, hi) == expected


def test_equal_bounds_still_give_a_range_of_ticks() -> None:
    ticks = nice_ticks(5, 5)
    assert ticks[0] < 5 < ticks[-1]


@settings(max_examples=200, deadline=None)
@given(finite, finite)
def test_ticks_are_finite_ordered_and_bounded_for_any_pair(a: float, b: float) -> None:
    ticks = nice_ticks(min(a, b), max(a, b))
    assert 2 <= len(ticks) <= MAX_TICKS
    assert all(math.isfinite(t) for t in ticks)
    assert ticks == sorted(ticks)


@pytest.mark.parametrize(
    "values", [[5e-324, 1e-323], [-1.7e308, 1.7e308], [0.0, -0.0], [1e308, 1e308, -1e308]]
)
def test_extreme_values_still_draw_inside_the_box(values: list[float]) -> None:
    svg = parse(
        history_chart(
            [(START + timedelta(days=i), v) for i, v in enumerate(values)],
            title="t",
            tick_label=plain,
        )
    )
    for circle in svg.findall(f"{SVG}circle"):
        assert -320 <= float(circle.get("cy", "nan")) <= 640


def test_no_history_draws_nothing() -> None:
    assert sparkline([], label="x") == ""
    assert history_chart([], title="x", tick_label=plain) == ""


def test_sparkline_marks_the_last_point_and_scales_into_its_box() -> None:
    svg = parse(sparkline(days([1, 3, 2]), label="NPS: last 90 days"))
    assert svg.get("aria-label") == "NPS: last 90 days" and svg.get("role") == "img"
    points = [
        tuple(map(float, p.split(",")))
        for p in svg.find(f"{SVG}polyline").get("points").split()  # type: ignore[union-attr]
    ]
    assert len(points) == 3
    assert all(0 <= x <= 160 and 0 <= y <= 40 for x, y in points)
    assert points[1][1] < points[0][1]  # the highest value is drawn highest
    assert svg.find(f"{SVG}path").get("class") == "spark-dot"  # type: ignore[union-attr]


def test_a_single_point_and_flat_history_are_drawn_in_the_middle() -> None:
    single = parse(sparkline(days([5]), label="x"))
    assert single.find(f"{SVG}polyline").get("points") == "80.0,20.0"  # type: ignore[union-attr]
    flat = parse(sparkline(days([2, 2, 2]), label="x"))
    ys = {p.split(",")[1] for p in flat.find(f"{SVG}polyline").get("points").split()}  # type: ignore[union-attr]
    assert ys == {"20.0"}


def test_text_is_escaped_so_a_title_cannot_inject_markup() -> None:
    evil = '"><script>alert(1)</script>'
    svg = sparkline(days([1, 2]), label=evil)
    assert "<script>" not in svg
    chart = history_chart(
        [(START, 1.0), (START + timedelta(days=1), 2.0)],
        title=evil,
        tick_label=lambda v, s: "<b>",
        lines=[Guide(1.5, "limit", "<i>floor</i>")],
    )
    assert "<script>" not in chart and "<b>" not in chart and "<i>" not in chart
    parse(chart)


def test_charts_carry_no_style_attribute_for_the_csp() -> None:
    chart = history_chart(
        [(START + timedelta(days=i), float(i)) for i in range(10)],
        title="t",
        tick_label=plain,
        lines=[Guide(3, "limit", "floor 3")],
        bands=[Band(3, 4, "at risk")],
    )
    for svg in (chart, sparkline(days([1, 2, 3]), label="s")):
        assert "style" not in svg
        assert all(el.get("style") is None for el in parse(svg).iter())


def test_history_chart_draws_guides_bands_and_every_point_when_few() -> None:
    points = [(START + timedelta(days=i), 100.0 + i) for i in range(5)]
    svg = parse(
        history_chart(
            points,
            title="History of Uptime",
            tick_label=plain,
            lines=[Guide(99.0, "limit", "floor 99")],
            bands=[Band(99.0, 101.0, "at risk")],
        )
    )
    assert len(svg.findall(f"{SVG}circle")) == 5
    assert svg.find(f"{SVG}rect").get("class") == "chart-band"  # type: ignore[union-attr]
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert "floor 99" in labels
    # The guide below every value still lies inside the plot.
    guide = next(el for el in svg.findall(f"{SVG}line") if "chart-guide" in el.get("class", ""))
    assert 0 < float(guide.get("y1", "0")) < 320


def test_many_points_are_drawn_as_a_line_without_dots() -> None:
    points = [(START + timedelta(hours=i), float(i % 7)) for i in range(500)]
    svg = parse(history_chart(points, title="t", tick_label=plain))
    assert not svg.findall(f"{SVG}circle")
    assert len(svg.find(f"{SVG}polyline").get("points").split()) == 500  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(finite, st.just(math.nan), st.just(math.inf)), max_size=30))
def test_charts_are_well_formed_svg_for_any_values(values: list[float]) -> None:
    points = [(START + timedelta(minutes=i), v) for i, v in enumerate(values)]
    for svg in (
        history_chart(points, title="t", tick_label=plain, lines=[Guide(0, "limit", "0")]),
        sparkline(points, label="s"),
    ):
        if svg:
            root = parse(svg)
            assert "nan" not in svg.lower() and "inf" not in svg.lower()
            assert root.tag == f"{SVG}svg"


@pytest.mark.parametrize(
    ("params", "lines", "bands"),
    [
        (ShapeParams("stay_above", threshold=99.9), ["floor 99.9"], []),
        (
            ShapeParams("stay_above", threshold=99.9, warn_at=99.95),
            ["floor 99.9"],
            [(99.9, 99.95)],
        ),
        (ShapeParams("stay_below", threshold=500, warn_at=400), ["ceiling 500"], [(400, 500)]),
        (
            ShapeParams("stay_between", lower=3, upper=7, warn_margin=0.5),
            ["lower 3", "upper 7"],
            [(3, 3.5), (6.5, 7)],
        ),
        (
            ShapeParams("trend", direction="up", baseline=10, warn_margin=2),
            ["baseline 10"],
            [(10, 12)],
        ),
        (
            ShapeParams("trend", direction="down", baseline=10, warn_margin=2),
            ["baseline 10"],
            [(8, 10)],
        ),
        (
            ShapeParams(
                "trend", direction="up", baseline_mode="prior_period", baseline_period="30d"
            ),
            [],
            [],
        ),
        (ShapeParams("stay_above"), [], []),
        (ShapeParams("no_such_shape", threshold=1), [], []),
    ],
)
def test_each_shape_draws_its_thresholds_and_warning_band(
    params: ShapeParams, lines: list[str], bands: list[tuple[float, float]]
) -> None:
    got_lines, got_bands = chart_guides(params, label=lambda v: f"{v:g}")
    assert [g.label for g in got_lines] == lines
    assert [(b.low, b.high) for b in got_bands] == bands


@pytest.mark.parametrize(
    ("labels", "value", "step", "expected"),
    [
        (ValueLabels("percentage", display_format="decimal_1"), 99.92, 0.02, "99.92%"),
        (ValueLabels("percentage", display_format="decimal_1"), 99.9, 0.0, "99.9%"),
        (ValueLabels("currency", "USD", "integer"), 1_200_000, 200_000, "$1.2M"),
        (ValueLabels("time", "ms", "integer"), 400, 50, "400 ms"),
        (ValueLabels("number", display_format="decimal_1"), 2.5, 0.5, "2.5"),
        (ValueLabels("boolean"), 1, 0.5, "1.0"),
    ],
)
def test_labels_use_the_kpis_unit_with_the_decimals_the_step_needs(
    labels: ValueLabels, value: float, step: float, expected: str
) -> None:
    assert (labels.tick(value, step) if step else labels.exact(value)) == expected
