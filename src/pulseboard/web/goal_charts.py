"""Goal drawings as inline SVG, built on the server: the progress bar with its expected marker
and a key result's progress chart against the expected line over its cycle.

Like ``charts.py``: colours come from the stylesheet through class names (no style
attributes, so the Content-Security-Policy needs no 'unsafe-inline'), every text is
escaped here and callers mark the result safe. Pure: no Django, no I/O; every
function is total (no points, one point, progress outside [0, 1], an empty cycle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from pulseboard.goals.progress import STAY_KINDS, CycleWindow, zone

BAR_WIDTH = 200
BAR_HEIGHT = 14
CHART_WIDTH = 900
CHART_HEIGHT = 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 16, 14, 30
X_LABELS = 5
MAX_DOTS = 60


def percent(fraction: float | None) -> str:
    """'45%' for 0.45; '—' without a value."""
    if fraction is None or not math.isfinite(fraction):
        return "—"
    return f"{round(max(0.0, min(1.0, fraction)) * 100)}%"


def _unit(value: float | None) -> float:
    if value is None or not math.isfinite(value):
        return 0.0
    return max(0.0, min(1.0, value))


def _n(number: float) -> str:
    return f"{number:.1f}"


def progress_bar(progress: float | None, expected: float | None, *, label: str) -> str:
    """A bar filled to ``progress`` with a tick at ``expected`` (none when ``expected`` is None).

    The bar scales to its container; ``label`` is its accessible name and should say
    the numbers in words ("45% done, 50% expected by now").
    """
    fill = _unit(progress) * BAR_WIDTH
    parts = [
        f'<svg class="goal-bar" viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(label)}" focusable="false">',
        f'<rect class="goal-bar-track" x="0" y="2" width="{BAR_WIDTH}" height="{BAR_HEIGHT - 4}" '
        'rx="3"/>',
    ]
    if progress is not None and fill > 0:
        parts.append(
            f'<rect class="goal-bar-fill" x="0" y="2" width="{_n(fill)}" height="{BAR_HEIGHT - 4}" '
            'rx="3"/>'
        )
    if expected is not None:
        x = min(BAR_WIDTH - 1.0, max(1.0, _unit(expected) * BAR_WIDTH))
        parts.append(
            f'<line class="goal-bar-expected" x1="{_n(x)}" x2="{_n(x)}" y1="0" y2="{BAR_HEIGHT}" '
            'vector-effect="non-scaling-stroke"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    progress: float | None


def _date_label(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(zone(timezone))
    return f"{local.day} {local:%b}"


def progress_chart(
    points: Sequence[ChartPoint],
    *,
    window: CycleWindow,
    kind: str,
    now: datetime,
    timezone: str,
    title: str,
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
) -> str:
    """Progress (0-100 %) over the whole cycle, the expected line, and today's position.

    Progress holds from one point to the next (a check-in stands until the next one),
    and the last one holds until today (or the cycle's end once it has closed).
    """
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    start, end = window.starts_at.timestamp(), window.ends_at.timestamp()
    span = end - start if end > start else 1.0

    def sx(moment: datetime) -> float:
        fraction = (moment.timestamp() - start) / span
        return left + max(0.0, min(1.0, fraction)) * (right - left)

    def sy(fraction: float) -> float:
        return bottom - _unit(fraction) * (bottom - top)

    parts = [
        f'<svg class="chart goal-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" focusable="false">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = sy(tick)
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{right}" y1="{_n(y)}" y2="{_n(y)}"/>'
            f'<text class="chart-axis" x="{left - 6}" y="{_n(y + 4)}" text-anchor="end">'
            f"{percent(tick)}</text>"
        )
    for i in range(X_LABELS):
        fraction = i / (X_LABELS - 1)
        moment = datetime.fromtimestamp(start + span * fraction, tz=window.starts_at.tzinfo)
        if i == X_LABELS - 1:
            # The last label names the cycle's last day, not the midnight after it.
            moment = datetime.fromtimestamp(end - 1, tz=window.starts_at.tzinfo)
        anchor = "start" if i == 0 else "end" if i == X_LABELS - 1 else "middle"
        text = escape(_date_label(moment, timezone))
        parts.append(
            f'<text class="chart-axis" x="{_n(left + fraction * (right - left))}" '
            f'y="{height - 8}" text-anchor="{anchor}">{text}</text>'
        )
    if kind in STAY_KINDS:
        expected_line = f"{left},{_n(sy(1.0))} {right},{_n(sy(1.0))}"
    else:
        expected_line = f"{left},{_n(sy(0.0))} {right},{_n(sy(1.0))}"
    parts.append(f'<polyline class="goal-chart-expected" points="{expected_line}"/>')
    if window.starts_at < now < window.ends_at:
        x = sx(now)
        parts.append(
            f'<line class="goal-chart-today" x1="{_n(x)}" x2="{_n(x)}" y1="{top}" y2="{bottom}"/>'
            f'<text class="chart-guide-label" x="{_n(x + 4)}" y="{top + 10}">today</text>'
        )
    known = sorted(
        (p for p in points if p.progress is not None and math.isfinite(p.progress)),
        key=lambda p: p.at,
    )
    if known:
        steps: list[tuple[float, float]] = []
        for point in known:
            x, y = sx(point.at), sy(point.progress or 0.0)
            if steps:
                steps.append((x, steps[-1][1]))
            steps.append((x, y))
        until = min(now, window.ends_at)
        last_x = max(sx(until), steps[-1][0])
        steps.append((last_x, steps[-1][1]))
        path = " ".join(f"{_n(x)},{_n(y)}" for x, y in steps)
        parts.append(f'<polyline class="chart-line goal-chart-line" points="{path}"/>')
        if len(known) <= MAX_DOTS:
            parts.extend(
                f'<circle class="chart-dot" cx="{_n(sx(p.at))}" cy="{_n(sy(p.progress or 0.0))}" '
                'r="3.5"/>'
                for p in known
            )
    parts.append("</svg>")
    return "".join(parts)
