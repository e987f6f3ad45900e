"""Charts as inline SVG, built on the server: the Home sparkline and the detail history chart.

Owns the geometry (scales, nice axis ticks, paths), the guides a shape draws
(threshold lines, the shaded warning band) and the markup. Colours come from
the stylesheet through class names, so the SVG carries no style attribute and
passes a Content-Security-Policy without 'unsafe-inline'. Every text is
escaped here; callers mark the result safe. Pure: no Django, no I/O; every
function is total (no points, one point, equal values, huge values).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from html import escape

from pulseboard.indicators.formatting import format_compact, format_value
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape, ShapeParams, as_finite
from pulseboard.indicators.targets import Schedule, ScheduledTarget, applied, fits

SPARK_WIDTH = 160
SPARK_HEIGHT = 40
CHART_WIDTH = 900
CHART_HEIGHT = 320
# Room for the y labels on the left, the dates below and a guide's label above the top line.
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 72, 12, 22, 30
MAX_DOTS = 60
COMPACT_FROM = 100_000
_FORMATS = ("integer", "decimal_1", "decimal_2")
Y_TICKS = 5
MAX_TICKS = 12
X_TICKS = 6


@dataclass(frozen=True)
class Guide:
    """A horizontal line across the chart: a threshold, a bound or a baseline."""

    value: float
    kind: str  # css modifier: "limit" (red line) or "baseline"
    label: str


@dataclass(frozen=True)
class Band:
    """A shaded horizontal band: the warning zone where green turns yellow."""

    low: float
    high: float
    label: str


@dataclass(frozen=True)
class Marker:
    """A vertical line at a moment: an annotation (DESIGN §13); ``label`` is its tooltip."""

    at: datetime
    label: str


def _finite_points(
    points: Sequence[tuple[datetime | date, float]],
) -> list[tuple[float, float]]:
    out = []
    for when, value in points:
        y = as_finite(value)
        if y is None:
            continue
        out.append((_seconds(when), y))
    out.sort(key=lambda p: p[0])
    return out


def _seconds(when: datetime | date) -> float:
    if isinstance(when, datetime):
        moment = when if when.tzinfo else when.replace(tzinfo=UTC)
        return moment.timestamp()
    return datetime(when.year, when.month, when.day, tzinfo=UTC).timestamp()


def _span(lo: float, hi: float) -> tuple[float, float]:
    """A non-empty, finite range around [lo, hi]."""
    if hi - lo > 0 and math.isfinite(hi - lo):
        return lo, hi
    if hi - lo > 0:
        # Wider than a float can hold: halve both ends so the width is finite.
        return lo / 2, hi / 2
    pad = abs(lo) * 0.1 or 1.0
    low, high = lo - pad, hi + pad
    # Near the float limit only one side can move without overflowing.
    return (low if math.isfinite(low) else lo), (high if math.isfinite(high) else hi)


def _scale(value: float, lo: float, hi: float, start: float, end: float) -> float:
    # Halve before subtracting so values near the float limit stay finite.
    width = hi / 2 - lo / 2
    if not width > 0 or not math.isfinite(width):
        # A range of subnormal numbers halves to nothing: draw it in the middle.
        return (start + end) / 2
    fraction = max(-1.0, min(2.0, (value / 2 - lo / 2) / width))
    return start + fraction * (end - start)


def _n(number: float) -> str:
    return f"{number:.1f}"


def nice_ticks(lo: float, hi: float, count: int = Y_TICKS) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times 10^k) from at or below ``lo`` to at or
    above ``hi``; about ``count`` intervals, never more than ``MAX_TICKS`` values."""
    lo, hi = _span(lo, hi)
    raw = (hi / 2 - lo / 2) * 2 / max(1, count)
    if not math.isfinite(raw) or raw <= 0:
        return [lo, hi]
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(lo / step) * step, math.ceil(hi / step) * step
    intervals = (last - first) / step
    if not math.isfinite(first) or not math.isfinite(last) or not math.isfinite(intervals):
        return [lo, hi]
    n = min(MAX_TICKS - 1, round(intervals))
    # Rounding to the step's precision drops float noise (0.1 * 3 = 0.30000000000000004).
    digits = max(0, 2 - math.floor(math.log10(step)))
    return [round(first + step * i, digits) + 0.0 for i in range(n + 1)]


def sparkline(
    points: Sequence[tuple[date | datetime, float]],
    *,
    label: str,
    width: int = SPARK_WIDTH,
    height: int = SPARK_HEIGHT,
) -> str:
    """A small line of recent history with its last point marked; "" without history."""
    data = _finite_points(points)
    if not data:
        return ""
    x_lo, x_hi = _span(data[0][0], data[-1][0])
    y_lo, y_hi = _span(min(y for _, y in data), max(y for _, y in data))
    pad = 3.0
    coords = [
        (
            _scale(x, x_lo, x_hi, pad, width - pad),
            _scale(y, y_lo, y_hi, height - pad, pad),
        )
        for x, y in data
    ]
    if len(coords) == 1:
        coords = [(width / 2, height / 2)]
    line = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords)
    area = f"{_n(coords[0][0])},{height} {line} {_n(coords[-1][0])},{height}"
    last_x, last_y = coords[-1]
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(label)}" focusable="false">'
        f'<polygon class="spark-area" points="{area}"/>'
        f'<polyline class="spark-line" points="{line}" vector-effect="non-scaling-stroke"/>'
        # A zero-length round-capped stroke stays a circle when the SVG is stretched.
        f'<path class="spark-dot" d="M{_n(last_x)},{_n(last_y)}h0" '
        'vector-effect="non-scaling-stroke"/>'
        "</svg>"
    )


@dataclass(frozen=True)
class ValueLabels:
    """Axis and guide labels in a KPI's unit: "$1.2M", "99.95%", "380 ms"."""

    unit_type: str
    unit_label: str = ""
    display_format: str = "decimal_1"
    locale: str = "en_US"

    def _render(self, value: float, decimals: int) -> str:
        # A chart of yes/no values still needs numbers on its axis.
        unit = "number" if self.unit_type == "boolean" else self.unit_type
        if abs(value) >= COMPACT_FROM:
            return format_compact(
                value, unit_type=unit, unit_label=self.unit_label, locale=self.locale
            )
        return format_value(
            value,
            unit_type=unit,
            unit_label=self.unit_label,
            display_format=_FORMATS[decimals],
            locale=self.locale,
        )

    def exact(self, value: float) -> str:
        """A threshold or baseline: at least the KPI's own decimals, more when it has them."""
        own = {"integer": 0, "decimal_1": 1}.get(self.display_format, 2)
        return self._render(value, max(own, _decimals(value)))

    def tick(self, value: float, step: float) -> str:
        """An axis tick: as many decimals as the step between ticks needs (at most 2)."""
        return self._render(value, _decimals(step))


def _decimals(number: float) -> int:
    """The decimals (0 to 2) that show ``number`` without rounding it, when 2 suffice."""
    for digits in (0, 1):
        if math.isclose(round(number, digits), number, rel_tol=1e-9, abs_tol=1e-12):
            return digits
    return 2


def chart_guides(
    p: ShapeParams, *, label: Callable[[float], str]
) -> tuple[list[Guide], list[Band]]:
    """The lines and warning bands a shape draws; ``label`` renders a value in the KPI's unit."""
    lines: list[Guide] = []
    bands: list[Band] = []
    threshold, warn_at = as_finite(p.threshold), as_finite(p.warn_at)
    margin = as_finite(p.warn_margin)
    margin = margin if margin is not None and margin > 0 else None
    if p.shape in (Shape.STAY_ABOVE, Shape.STAY_BELOW) and threshold is not None:
        above = p.shape == Shape.STAY_ABOVE
        lines.append(
            Guide(threshold, "limit", f"{'floor' if above else 'ceiling'} {label(threshold)}")
        )
        if warn_at is not None and (warn_at > threshold if above else warn_at < threshold):
            low, high = (threshold, warn_at) if above else (warn_at, threshold)
            bands.append(
                Band(low, high, f"at risk {'below' if above else 'above'} {label(warn_at)}")
            )
    elif p.shape == Shape.STAY_BETWEEN:
        lower, upper = as_finite(p.lower), as_finite(p.upper)
        if lower is not None and upper is not None and lower <= upper:
            lines.append(Guide(lower, "limit", f"lower {label(lower)}"))
            lines.append(Guide(upper, "limit", f"upper {label(upper)}"))
            if margin is not None:
                bands.append(Band(lower, min(upper, lower + margin), "at risk"))
                bands.append(Band(max(lower, upper - margin), upper, "at risk"))
    elif p.shape == Shape.TREND and p.baseline_mode == BaselineMode.FIXED:
        base = as_finite(p.baseline)
        if base is not None:
            lines.append(Guide(base, "baseline", f"baseline {label(base)}"))
            if margin is not None and p.direction in (Direction.UP, Direction.DOWN):
                up = p.direction == Direction.UP
                low, high = (base, base + margin) if up else (base - margin, base)
                bands.append(Band(low, high, "at risk"))
    return lines, bands


@dataclass(frozen=True)
class GuideStep:
    """The guides in force from ``start`` (None: since before the chart) until the next step:
    a KPI's scheduled targets (DESIGN §13) drawn as step lines."""

    start: datetime | None
    lines: tuple[Guide, ...]
    bands: tuple[Band, ...]


def schedule_steps(
    base: ShapeParams, entries: Iterable[ScheduledTarget], *, label: Callable[[float], str]
) -> list[GuideStep]:
    """The guides of the KPI's own parameters, then of each scheduled entry from its time on;
    entries that no longer fit the shape are left out, as evaluation leaves them out."""
    lines, bands = chart_guides(base, label=label)
    steps = [GuideStep(None, tuple(lines), tuple(bands))]
    for entry in Schedule(entries).entries:
        if fits(base, entry):
            lines, bands = chart_guides(applied(base, entry), label=label)
            steps.append(GuideStep(entry.effective_from, tuple(lines), tuple(bands)))
    return steps


def _visible_steps(
    steps: Sequence[GuideStep], data: Sequence[tuple[float, float]]
) -> list[tuple[float, float, GuideStep]]:
    """Each step that holds during the points' time span, with the part of the span it holds."""
    first, last = data[0][0], data[-1][0]
    visible = []
    for index, step in enumerate(steps):
        start = first if step.start is None else max(first, _seconds(step.start))
        following = steps[index + 1].start if index + 1 < len(steps) else None
        end = last if following is None else min(last, _seconds(following))
        if start < end or (start == end == first == last):
            visible.append((start, end, step))
    return visible


def _step_parts(
    visible: Sequence[tuple[float, float, GuideStep]],
    sx: Callable[[float], float],
    sy: Callable[[float], float],
    edges: tuple[float, float],
) -> tuple[list[str], list[str]]:
    """The shaded bands and the step lines (each guide one polyline through its steps)."""
    left, right = edges

    def x_of(seconds: float, edge: float, single: bool) -> float:
        return edge if single else sx(seconds)

    single = len(visible) == 1 and visible[0][0] == visible[0][1]
    bands: list[str] = []
    tracks: dict[int, list[tuple[float, float]]] = {}
    titles: dict[int, list[str]] = {}
    for start, end, step in visible:
        x1, x2 = x_of(start, left, single), x_of(end, right, single)
        for band in step.bands:
            y1, y2 = sy(band.high), sy(band.low)
            bands.append(
                f'<rect class="chart-band" x="{_n(x1)}" y="{_n(y1)}" '
                f'width="{_n(max(0.0, x2 - x1))}" height="{_n(max(0.0, y2 - y1))}">'
                f"<title>{escape(band.label)}</title></rect>"
            )
        for k, guide in enumerate(step.lines):
            y = sy(guide.value)
            tracks.setdefault(k, []).extend([(x1, y), (x2, y)])
            if guide.label not in titles.setdefault(k, []):
                titles[k].append(guide.label)
    lines: list[str] = []
    last_lines = visible[-1][2].lines if visible else ()
    for k, track in tracks.items():
        kind = last_lines[k].kind if k < len(last_lines) else "limit"
        path = " ".join(f"{_n(x)},{_n(y)}" for x, y in track)
        lines.append(
            f'<polyline class="chart-guide chart-guide-{escape(kind)} chart-step" fill="none" '
            f'points="{path}"><title>{escape(" → ".join(titles[k]))}</title></polyline>'
        )
    for guide in last_lines:
        y = sy(guide.value)
        lines.append(
            f'<text class="chart-guide-label" x="{_n(right - 4)}" y="{_n(y - 5)}" '
            f'text-anchor="end">{escape(guide.label)}</text>'
        )
    return bands, lines


def _date_label(seconds: float, span_seconds: float, zone: tzinfo) -> str:
    moment = datetime.fromtimestamp(seconds, tz=zone)
    if span_seconds <= 2 * 86400:
        return moment.strftime("%H:%M")
    if span_seconds <= 400 * 86400:
        return f"{moment.day} {moment:%b}"
    return moment.strftime("%b %Y")


def history_chart(
    points: Sequence[tuple[datetime | date, float]],
    *,
    title: str,
    tick_label: Callable[[float, float], str],
    lines: Sequence[Guide] = (),
    bands: Sequence[Band] = (),
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    zone: tzinfo = UTC,
    status_periods: Sequence[StatusShade] = (),
    schedule: Sequence[GuideStep] = (),
    markers: Sequence[Marker] = (),
) -> str:
    """The detail page chart: history line, guides, shaded bands, axes; "" without history.

    The time axis is labelled in ``zone`` (the organization's time zone, DESIGN §15).
    ``markers`` draw a vertical line with a ``<title>`` each, where they fall inside the
    time span of the points (the page lists every note under the chart anyway).
    """
    data = _finite_points(points)
    if not data:
        return ""
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    values = [y for _, y in data] + [g.value for g in lines]
    values += [v for b in bands for v in (b.low, b.high)]
    # Scheduled targets: the guides of each step that holds while the points were observed.
    visible = _visible_steps(schedule, data)
    for _, _, held in visible:
        values += [g.value for g in held.lines] + [v for b in held.bands for v in (b.low, b.high)]
    ticks = nice_ticks(min(values), max(values))
    y_lo, y_hi = _span(min(ticks[0], *values), max(ticks[-1], *values))
    ticks = [t for t in ticks if y_lo <= t <= y_hi]
    x_lo, x_hi = _span(data[0][0], data[-1][0])

    def sx(x: float) -> float:
        return (left + right) / 2 if len(data) == 1 else _scale(x, x_lo, x_hi, left, right)

    def sy(y: float) -> float:
        return _scale(y, y_lo, y_hi, bottom, top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(_with_statuses(title, status_periods))}" focusable="false">'
    ]
    parts.extend(_status_parts(status_periods, data, sx, (left, right), (top, bottom)))
    for band in bands:
        y1, y2 = sy(band.high), sy(band.low)
        parts.append(
            f'<rect class="chart-band" x="{left}" y="{_n(y1)}" width="{right - left}" '
            f'height="{_n(max(0.0, y2 - y1))}"><title>{escape(band.label)}</title></rect>'
        )
    step_bands, step_lines = _step_parts(visible, sx, sy, (left, right))
    parts.extend(step_bands)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.0
    for tick in ticks:
        y = sy(tick)
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{right}" y1="{_n(y)}" y2="{_n(y)}"/>'
        )
        parts.append(
            f'<text class="chart-axis" x="{left - 6}" y="{_n(y + 4)}" text-anchor="end">'
            f"{escape(tick_label(tick, step))}</text>"
        )
    span_seconds = data[-1][0] - data[0][0]
    count = 1 if len(data) == 1 else X_TICKS
    for i in range(count):
        x = data[0][0] + (span_seconds * i / (count - 1) if count > 1 else 0)
        anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 else "middle"
        parts.append(
            f'<text class="chart-axis" x="{_n(sx(x))}" y="{height - 8}" text-anchor="{anchor}">'
            f"{escape(_date_label(x, span_seconds, zone))}</text>"
        )
    for guide in lines:
        y = sy(guide.value)
        parts.append(
            f'<line class="chart-guide chart-guide-{escape(guide.kind)}" x1="{left}" x2="{right}" '
            f'y1="{_n(y)}" y2="{_n(y)}"/>'
            f'<text class="chart-guide-label" x="{right - 4}" y="{_n(y - 5)}" '
            'text-anchor="end">'
            f"{escape(guide.label)}</text>"
        )
    parts.extend(_marker_parts(markers, data, sx, top, bottom))
    parts.extend(step_lines)
    coords = [(sx(x), sy(y)) for x, y in data]
    if len(coords) > 1:
        path = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords)
        parts.append(f'<polyline class="chart-line" points="{path}"/>')
    if len(coords) <= MAX_DOTS:
        parts.extend(
            f'<circle class="chart-dot" cx="{_n(x)}" cy="{_n(y)}" r="3"/>' for x, y in coords
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class StatusShade:
    """A stretch of one status (DESIGN §12), shaded behind the line; ``label`` says it in
    words ("Red from Dec 1 until Dec 3") for the tooltip and for screen readers."""

    status: str
    start: datetime
    end: datetime | None  # None: still the status now (to the chart's right edge)
    label: str


def _with_statuses(title: str, shades: Sequence[StatusShade]) -> str:
    """The chart's accessible name: the title, then the status periods in words."""
    if not shades:
        return title
    return f"{title}. Status: " + "; ".join(shade.label for shade in shades)


def _status_parts(
    shades: Sequence[StatusShade],
    data: Sequence[tuple[float, float]],
    sx: Callable[[float], float],
    edges: tuple[float, float],
    rows: tuple[float, float],
) -> list[str]:
    """A translucent rectangle per status period inside the points' time span, behind all."""
    if len(data) < 2:  # one point has no time axis to place a period on
        return []
    left, right = edges
    top, bottom = rows
    parts = []
    for shade in shades:
        x1 = max(left, min(right, sx(_seconds(shade.start))))
        x2 = right if shade.end is None else max(left, min(right, sx(_seconds(shade.end))))
        if x2 <= x1:
            continue
        parts.append(
            f'<rect class="chart-status chart-status-{escape(shade.status)}" x="{_n(x1)}" '
            f'y="{_n(top)}" width="{_n(x2 - x1)}" height="{_n(bottom - top)}">'
            f"<title>{escape(shade.label)}</title></rect>"
        )
    return parts


def _marker_parts(
    markers: Sequence[Marker],
    data: Sequence[tuple[float, float]],
    sx: Callable[[float], float],
    top: float,
    bottom: float,
) -> list[str]:
    """One group per marker inside the points' time span: a line, a small head, a title."""
    if len(data) < 2:  # one point has no time axis to place a moment on
        return []
    first, last = data[0][0], data[-1][0]
    parts = []
    for marker in sorted(markers, key=lambda m: _seconds(m.at)):
        when = _seconds(marker.at)
        if not first <= when <= last:
            continue
        x = _n(sx(when))
        parts.append(
            f'<g class="chart-marker"><title>{escape(marker.label)}</title>'
            f'<line class="chart-marker-line" x1="{x}" x2="{x}" y1="{_n(top)}" '
            f'y2="{_n(bottom)}"/>'
            f'<path class="chart-marker-head" d="M{x},{_n(top)}l-5,-8h10z"/></g>'
        )
    return parts
