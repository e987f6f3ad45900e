"""Bridge from a stored KPI to the pure evaluator: parameters, targets over time, status.

The pure modules know nothing of models; this module turns a ``Kpi`` row into
``ShapeParams``, its ``TargetEntry`` rows into a ``targets.Schedule`` and resolves
the rolling (prior-period) baseline from history (through ``past_values``).

A value observed at ``t`` is judged by the parameters in force at ``t`` (DESIGN §13),
late writes included. ``status_of`` loads the KPI's schedule with one query unless
the caller passes it: callers that judge many values (a batch, an import, a
backfill, Home's cards) load the schedules of all their KPIs once with
``schedules_for`` and pass each one down.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Final, Literal

from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.models import Kpi, TargetEntry
from pulseboard.indicators.past_values import reader
from pulseboard.indicators.shapes import BaselineMode, Shape, ShapeParams
from pulseboard.indicators.status import Status, evaluate
from pulseboard.indicators.targets import Schedule, ScheduledTarget, params_in_force


def shape_params(kpi: Kpi) -> ShapeParams:
    """The KPI's own parameters (those in force when no scheduled target is)."""
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


def entry_of(row: TargetEntry) -> ScheduledTarget:
    return ScheduledTarget(
        effective_from=row.effective_from,
        threshold=row.threshold,
        lower=row.lower,
        upper=row.upper,
        baseline=row.baseline,
        warn_at=row.warn_at,
        warn_margin=row.warn_margin,
    )


def schedule_of(kpi: Kpi) -> Schedule:
    """The KPI's scheduled targets (one query)."""
    return schedules_for(org_id=kpi.org_id, kpi_ids=[kpi.pk])[kpi.pk]


def schedules_for(*, org_id: int, kpi_ids: Iterable[str]) -> dict[str, Schedule]:
    """The scheduled targets of many KPIs of one org in one query; every id gets a schedule."""
    ids = list(dict.fromkeys(kpi_ids))
    rows: dict[str, list[ScheduledTarget]] = {kpi_id: [] for kpi_id in ids}
    if ids:
        for row in TargetEntry.objects.filter(org_id=org_id, kpi_id__in=ids).order_by(
            "kpi_id", "effective_from"
        ):
            rows[row.kpi_id].append(entry_of(row))
    return {kpi_id: Schedule(entries) for kpi_id, entries in rows.items()}


def params_at(kpi: Kpi, at: datetime, schedule: Schedule | None = None) -> ShapeParams:
    """The parameters in force at ``at``: the newest scheduled entry's, else the KPI's own."""
    return params_in_force(
        shape_params(kpi), schedule if schedule is not None else schedule_of(kpi), at
    )


def effective_baseline(kpi: Kpi, at: datetime) -> float | None:
    """Fixed baseline, or the KPI's own value one ``baseline_period`` before ``at``.

    The fixed baseline is the KPI's own; ``status_of`` takes a scheduled one from the
    parameters in force instead."""
    if kpi.shape != Shape.TREND:
        return None
    if kpi.baseline_mode != BaselineMode.PRIOR_PERIOD:
        return kpi.baseline
    try:
        period = parse_duration(kpi.baseline_period)
    except DurationError:
        return None
    return reader().value_at_or_before(kpi_id=kpi.pk, org_id=kpi.org_id, when=at - period)


class Unread(Enum):
    UNREAD = "unread"


UNREAD: Final = Unread.UNREAD


def status_of(
    kpi: Kpi,
    value: float | None,
    at: datetime,
    *,
    schedule: Schedule | None = None,
    baseline: float | Literal[Unread.UNREAD] | None = UNREAD,
) -> Status:
    """The status of ``value`` observed at ``at``, by the targets in force at ``at``.

    ``schedule`` is the KPI's (from ``schedules_for``); None loads it (one query).
    ``baseline`` is a rolling trend's baseline at ``at`` when the caller has read it
    already (the time pass reads a batch's at once); ``UNREAD`` reads it (one query)."""
    params = params_at(kpi, at, schedule)
    rolling = kpi.shape == Shape.TREND and kpi.baseline_mode == BaselineMode.PRIOR_PERIOD
    if not rolling:
        # A fixed baseline comes from the parameters in force (it may be scheduled).
        return evaluate(params, value, baseline=None)
    if baseline is UNREAD:
        baseline = effective_baseline(kpi, at)
    return evaluate(params, value, baseline=baseline)
