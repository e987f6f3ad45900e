"""Bridge from a stored KPI to the pure evaluator: parameters, baseline lookup, status.

The pure modules know nothing of models; this module turns a ``Kpi`` row into
``ShapeParams`` and resolves the rolling (prior-period) baseline from history
(through ``past_values``).
"""

from __future__ import annotations

from datetime import datetime

from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.past_values import reader
from pulseboard.indicators.shapes import BaselineMode, Shape, ShapeParams
from pulseboard.indicators.status import Status, evaluate


def shape_params(kpi: Kpi) -> ShapeParams:
    return ShapeParams(
        shape=kpi.shape,
        threshold=kpi.threshold,
        lower=kpi.lower,
        upper=kpi.upper,
        direction=kpi.direction or None,
        baseline=kpi.baseline,
        baseline_mode=kpi.baseline_mode or BaselineMode.FIXED,
        baseline_period=kpi.baseline_period or None,
        warn_at=kpi.warn_at,
        warn_margin=kpi.warn_margin,
    )


def effective_baseline(kpi: Kpi, at: datetime) -> float | None:
    """Fixed baseline, or the KPI's own value one ``baseline_period`` before ``at``."""
    if kpi.shape != Shape.TREND:
        return None
    if kpi.baseline_mode != BaselineMode.PRIOR_PERIOD:
        return kpi.baseline
    try:
        period = parse_duration(kpi.baseline_period)
    except DurationError:
        return None
    return reader().value_at_or_before(kpi_id=kpi.pk, org_id=kpi.org_id, when=at - period)


def status_of(kpi: Kpi, value: float | None, at: datetime) -> Status:
    return evaluate(shape_params(kpi), value, baseline=effective_baseline(kpi, at))
