"""The one sink for values: every write, whatever its source, passes through ``value_record``.

One transaction holds the ordering rule (a late write goes to history only), the
history row, the KPI's new value and status, and the audit event: all land or none.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction

from pulseboard.audit.actions import Action
from pulseboard.audit.services import audit_record
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.core.errors import NotFound, ValidationFailed
from pulseboard.history.models import KpiHistory
from pulseboard.history.selectors import daily_averages
from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.evaluation import shape_params, status_of
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.shapes import BaselineMode, Shape
from pulseboard.indicators.sparkline import WINDOW_DAYS, add_point, from_daily_averages
from pulseboard.indicators.status import evaluate

# Clocks disagree a little; further ahead than this is a sender's bug, not skew.
MAX_FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ValueWrite:
    kpi: Kpi
    history: KpiHistory | None
    applied: bool  # became the current value (False for a late write)
    changed: bool  # False when a pull re-read the current value and nothing was written


def check_value(value: object) -> float:
    """A finite number, or a ValidationFailed saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed("value must be a number", errors={"value": "must be a number"})
    number = float(value)
    if not math.isfinite(number):
        raise ValidationFailed(
            "value must be a finite number", errors={"value": "must be a finite number"}
        )
    return number


def value_record(
    *,
    kpi: Kpi,
    value: float,
    observed_at: datetime | None,
    source: str,
    actor: Actor,
    record_unchanged: bool = True,
) -> ValueWrite:
    """Record one observation of ``kpi``.

    ``record_unchanged=False`` (used by pull connectors) turns a re-read of the
    current value into a freshness update only: no history row, no audit event.
    """
    number = check_value(value)
    now = clock.now()
    when = observed_at or now
    if when.tzinfo is None:
        raise ValidationFailed(
            "observed_at must include a time zone",
            errors={"observed_at": "must include a time zone offset, e.g. Z or +02:00"},
        )
    if when > now + MAX_FUTURE_SKEW:
        raise ValidationFailed(
            "observed_at is in the future",
            errors={"observed_at": "is more than 5 minutes in the future"},
        )
    # savepoint=False: inside a caller's transaction (a webhook delivery) this joins it
    # instead of adding SAVEPOINT/RELEASE round trips; all-or-nothing either way.
    with transaction.atomic(savepoint=False):
        # The row lock serialises concurrent writers to one KPI on PostgreSQL; SQLite's
        # IMMEDIATE transactions already serialise all writers.
        locked = Kpi.objects.select_for_update().filter(pk=kpi.pk, org_id=kpi.org_id).first()
        if locked is None:
            raise NotFound("KPI not found")
        late = locked.observed_at is not None and when < locked.observed_at
        if (
            not record_unchanged
            and not late
            and locked.current_value is not None
            and locked.current_value == number
        ):
            locked.observed_at = when
            locked.save(update_fields=["observed_at"])
            return ValueWrite(kpi=locked, history=None, applied=True, changed=False)
        status = status_of(locked, number, when)
        previous = locked.current_value
        history = KpiHistory.objects.create(
            org_id=locked.org_id,
            kpi=locked,
            value=number,
            observed_at=when,
            recorded_at=now,
            status=status,
            source=source,
        )
        locked.sparkline = add_point(locked.sparkline, when.astimezone(UTC).date(), number)
        if not late:
            locked.current_value = number
            locked.observed_at = when
            locked.status = status
        locked.save(update_fields=["current_value", "observed_at", "status", "sparkline"])
        audit_record(
            org_id=locked.org_id,
            actor=actor,
            action=Action.VALUE_RECORDED,
            target_type="kpi",
            target_id=locked.pk,
            target_label=locked.title,
            before={"value": previous},
            after={
                "value": number,
                "observed_at": when.isoformat(),
                "source": source,
                "status": status,
                "late": late,
            },
        )
    return ValueWrite(kpi=locked, history=history, applied=not late, changed=True)


def history_backfill(
    *,
    kpi: Kpi,
    points: list[tuple[datetime, float]],
    actor: Actor,
    source: str,
) -> int:
    """Bulk-import past observations (demo data, imports) with one audit event.

    Each row gets the status its value had under the KPI's current shape; for a
    rolling baseline that is computed from the imported points themselves.
    """
    if not points:
        return 0
    rows = sorted((when, check_value(value)) for when, value in points)
    now = clock.now()
    times = [when for when, _ in rows]
    period = _baseline_period(kpi)
    history = []
    for when, value in rows:
        baseline = None
        if period is not None:
            index = bisect_right(times, when - period) - 1
            baseline = rows[index][1] if index >= 0 else None
        status = (
            evaluate(shape_params(kpi), value, baseline=baseline)
            if period is not None
            else status_of(kpi, value, when)
        )
        history.append(
            KpiHistory(
                org_id=kpi.org_id,
                kpi_id=kpi.pk,
                value=value,
                observed_at=when,
                recorded_at=now,
                status=status,
                source=source,
            )
        )
    with transaction.atomic():
        locked = Kpi.objects.select_for_update().get(pk=kpi.pk, org_id=kpi.org_id)
        KpiHistory.objects.bulk_create(history, batch_size=1000)
        newest_at, newest = rows[-1]
        for when, value in rows:
            locked.sparkline = add_point(locked.sparkline, when.astimezone(UTC).date(), value)
        if locked.observed_at is None or newest_at >= locked.observed_at:
            locked.current_value = newest
            locked.observed_at = newest_at
            locked.status = history[-1].status
        locked.save(update_fields=["current_value", "observed_at", "status", "sparkline"])
        audit_record(
            org_id=locked.org_id,
            actor=actor,
            action=Action.HISTORY_BACKFILLED,
            target_type="kpi",
            target_id=locked.pk,
            target_label=locked.title,
            after={"rows": len(history), "from": times[0].isoformat(), "to": times[-1].isoformat()},
        )
    kpi.refresh_from_db()
    return len(history)


def _baseline_period(kpi: Kpi) -> timedelta | None:
    if kpi.shape != Shape.TREND or kpi.baseline_mode != BaselineMode.PRIOR_PERIOD:
        return None
    try:
        return parse_duration(kpi.baseline_period)
    except DurationError:
        return None


def sparkline_rebuild(*, kpi: Kpi) -> None:
    """Recompute the sparkline rollup from history (after bulk loads), downsampled in SQL."""
    with transaction.atomic():
        locked = Kpi.objects.select_for_update().get(pk=kpi.pk, org_id=kpi.org_id)
        newest = locked.observed_at or clock.now()
        rows = daily_averages(
            org_id=locked.org_id,
            kpi_id=locked.pk,
            since=newest - timedelta(days=WINDOW_DAYS),
        )
        locked.sparkline = from_daily_averages(rows)
        locked.save(update_fields=["sparkline"])
