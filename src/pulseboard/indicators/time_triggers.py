"""The moments time alone changes what a KPI shows (DESIGN §12), as functions.

With no new value, three things still move: a rolling (``prior_period``) trend baseline
(the KPI's own value at or before ``now - period`` is a different row once ``now - period``
passes the next row's ``observed_at``), ``expected_every`` running out (the value turns
stale), and a scheduled target (``TargetEntry``) coming into force. This module names
those moments and picks the earliest; ``indicators/reevaluation.py`` reads the inputs
from the database and stores the result as ``Kpi.reevaluate_at``. Pure: no Django, no
I/O, no clock; ``now`` comes in as an argument.

Decisions:
- A moment is the first instant the state differs, so a pass running at exactly that
  instant already sees the change: ``is_stale`` is strict (older *than* expected_every),
  so staleness begins one microsecond (the database's resolution) after
  ``observed_at + expected_every``; a row observed at ``t`` is the baseline from
  ``t + period`` on ("at or before").
- Every function is total: naive datetimes are read as UTC, zero or negative periods
  are "not set", and a moment beyond ``datetime.max`` is no moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

# The smallest step a stored datetime can take (microseconds on SQLite and PostgreSQL).
RESOLUTION = timedelta(microseconds=1)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _later(moment: datetime, span: timedelta) -> datetime | None:
    try:
        return _aware(moment) + span
    except OverflowError:
        return None


def stale_from(observed_at: datetime | None, expected_every: timedelta | None) -> datetime | None:
    """The first instant a value observed at ``observed_at`` counts as stale; None if never."""
    if observed_at is None or expected_every is None or expected_every <= timedelta(0):
        return None
    try:
        span = expected_every + RESOLUTION
    except OverflowError:
        return None
    return _later(observed_at, span)


def baseline_moves_at(
    row_observed_at: datetime | None, period: timedelta | None
) -> datetime | None:
    """When the history row observed at ``row_observed_at`` becomes the rolling baseline."""
    if row_observed_at is None or period is None or period <= timedelta(0):
        return None
    return _later(row_observed_at, period)


def earliest(
    moments: Iterable[datetime | None], *, after: datetime | None = None
) -> datetime | None:
    """The earliest of ``moments`` (later than ``after`` when given); None if there is none."""
    kept = [_aware(m) for m in moments if m is not None]
    if after is not None:
        kept = [m for m in kept if m > _aware(after)]
    return min(kept, default=None)


def next_reevaluation(
    *,
    now: datetime,
    observed_at: datetime | None,
    expected_every: timedelta | None,
    baseline_period: timedelta | None,
    next_row_at: datetime | None,
    next_target_from: datetime | None,
) -> datetime | None:
    """The next moment after ``now`` that status or staleness may change with no new value.

    ``next_row_at`` is the ``observed_at`` of the KPI's first history row after
    ``now - baseline_period`` (rolling trends only); ``next_target_from`` the earliest
    ``effective_from`` of its scheduled targets after ``now``.
    """
    return earliest(
        (
            stale_from(observed_at, expected_every),
            baseline_moves_at(next_row_at, baseline_period),
            next_target_from,
        ),
        after=now,
    )


def came_due(moment: datetime | None, *, since: datetime, now: datetime) -> bool:
    """Whether ``moment`` lies in ``[since, now]``: it passed after the previous evaluation.

    ``since`` is the KPI's previous ``reevaluate_at``: the earliest moment then pending,
    so every moment not yet accounted for is at or after it.
    """
    if moment is None:
        return False
    return _aware(since) <= _aware(moment) <= _aware(now)
