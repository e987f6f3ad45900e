"""Status, freshness and change of an indicator: the rules of DESIGN §2 as functions.

Owns ``evaluate`` (green / yellow / red / unknown from shape, parameters and
value), ``is_stale`` (freshness, which never changes the colour) and
``change_since`` / ``move_is_good`` (the change against the previous period
and whether that move is good for the shape). Pure: no Django, no I/O, no
clock; ``now`` comes in as an argument.

Decisions:
- Every function is total: any float (NaN and infinities included) and any
  parameter set, even one ``validate_params`` would reject, gives an answer.
  Missing or unusable parameters give ``unknown``; a warning band that does
  not fit its shape is ignored here (validation rejects it before storage).
- Warning bands are half-open on the good side, matching DESIGN §2:
  ``warn_at`` itself and a value exactly ``warn_margin`` away from a bound
  or the baseline are already green.
- Percent change is relative to the magnitude of the previous value, so a
  move from -10 to -5 is +50% (the sign always follows the move).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pulseboard.indicators.durations import elapsed
from pulseboard.indicators.shapes import (
    BaselineMode,
    Direction,
    Shape,
    ShapeParams,
    as_finite,
)

PULL_FAILURES_BEFORE_STALE = 3


class Status(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"


class StatusCause(StrEnum):
    """Why a KPI's status changed: a new value, time alone, or its definition or targets."""

    VALUE = "value"
    TIME = "time"
    CONFIG = "config"


def _margin(p: ShapeParams) -> float:
    margin = as_finite(p.warn_margin)
    return margin if margin is not None and margin > 0 else 0.0


def evaluate(p: ShapeParams, value: float | None, *, baseline: float | None = None) -> Status:
    """The status of ``value`` under ``p``.

    For ``trend`` the ``baseline`` argument, when given, replaces
    ``p.baseline``: the caller passes the KPI's own value one
    ``baseline_period`` ago for rolling baselines. A ``prior_period`` trend
    without that argument is ``unknown`` (history does not reach back yet).
    """
    v = as_finite(value)
    if v is None:
        return Status.UNKNOWN
    if p.shape == Shape.STAY_ABOVE:
        return _stay_above(p, v)
    if p.shape == Shape.STAY_BELOW:
        return _stay_below(p, v)
    if p.shape == Shape.STAY_BETWEEN:
        return _stay_between(p, v)
    if p.shape == Shape.TREND:
        return _trend(p, v, baseline)
    return Status.UNKNOWN


def _stay_above(p: ShapeParams, v: float) -> Status:
    floor = as_finite(p.threshold)
    if floor is None:
        return Status.UNKNOWN
    if v < floor:
        return Status.RED
    warn_at = as_finite(p.warn_at)
    if warn_at is not None and warn_at > floor and v < warn_at:
        return Status.YELLOW
    return Status.GREEN


def _stay_below(p: ShapeParams, v: float) -> Status:
    ceiling = as_finite(p.threshold)
    if ceiling is None:
        return Status.UNKNOWN
    if v > ceiling:
        return Status.RED
    warn_at = as_finite(p.warn_at)
    if warn_at is not None and warn_at < ceiling and v > warn_at:
        return Status.YELLOW
    return Status.GREEN


def _stay_between(p: ShapeParams, v: float) -> Status:
    lower, upper = as_finite(p.lower), as_finite(p.upper)
    if lower is None or upper is None or upper < lower:
        return Status.UNKNOWN
    if v < lower or v > upper:
        return Status.RED
    margin = _margin(p)
    if v - lower < margin or upper - v < margin:
        return Status.YELLOW
    return Status.GREEN


def _trend(p: ShapeParams, v: float, baseline: float | None) -> Status:
    if baseline is not None:
        base = as_finite(baseline)
    elif p.baseline_mode == BaselineMode.PRIOR_PERIOD:
        base = None
    else:
        base = as_finite(p.baseline)
    if base is None:
        return Status.UNKNOWN
    margin = _margin(p)
    if p.direction == Direction.UP:
        if v < base:
            return Status.RED
        return Status.YELLOW if v - base < margin else Status.GREEN
    if p.direction == Direction.DOWN:
        if v > base:
            return Status.RED
        return Status.YELLOW if base - v < margin else Status.GREEN
    return Status.UNKNOWN


def is_stale(
    *,
    observed_at: datetime | None,
    now: datetime,
    expected_every: timedelta | None,
    pull_interval: timedelta | None = None,
    last_success_at: datetime | None = None,
) -> bool:
    """Whether the current value can no longer be trusted to be current (DESIGN §2).

    Stale when the value is older than ``expected_every``, or when a pull
    source (``pull_interval`` given) has not succeeded for 3 intervals:
    ``last_success_at`` missing or older than ``now - 3 * pull_interval``.
    A KPI without a value is never stale: its status is already ``unknown``.
    Zero or negative periods count as "not set". Naive datetimes are UTC.
    """
    if observed_at is None:
        return False
    if (
        expected_every is not None
        and expected_every > timedelta(0)
        and elapsed(observed_at, now) > expected_every
    ):
        return True
    if pull_interval is not None and pull_interval > timedelta(0):
        if last_success_at is None:
            return True
        try:
            allowed = pull_interval * PULL_FAILURES_BEFORE_STALE
        except OverflowError:
            return False
        return elapsed(last_success_at, now) > allowed
    return False


@dataclass(frozen=True)
class Change:
    """A move from the previous period's value to the current one.

    ``percent`` is None when the previous value is 0; ``good`` is None when
    the value did not move or the shape has no preferred direction for it.
    """

    absolute: float
    percent: float | None
    good: bool | None


def change_since(p: ShapeParams, current: float | None, previous: float | None) -> Change | None:
    """The change from ``previous`` to ``current``; None when either is missing or not finite."""
    now_value, then_value = as_finite(current), as_finite(previous)
    if now_value is None or then_value is None:
        return None
    delta = now_value - then_value
    if not math.isfinite(delta):
        return None
    percent: float | None = None
    if then_value != 0:
        ratio = delta / abs(then_value) * 100
        percent = ratio if math.isfinite(ratio) else None
    return Change(absolute=delta, percent=percent, good=move_is_good(p, delta, previous=then_value))


def move_is_good(p: ShapeParams, delta: float, *, previous: float | None = None) -> bool | None:
    """Whether a move by ``delta`` is good for the shape; None for no move or no opinion.

    Up is good for ``stay_above`` and ``trend up``, bad for ``stay_below`` and
    ``trend down``. For ``stay_between`` the good direction depends on where
    the value was: a move is good when it ends closer to the middle of the
    band than ``previous`` was, so it needs ``previous`` (None without it).
    """
    move = as_finite(delta)
    if move is None or move == 0:
        return None
    if p.shape == Shape.STAY_ABOVE:
        return move > 0
    if p.shape == Shape.STAY_BELOW:
        return move < 0
    if p.shape == Shape.TREND:
        if p.direction == Direction.UP:
            return move > 0
        if p.direction == Direction.DOWN:
            return move < 0
        return None
    if p.shape == Shape.STAY_BETWEEN:
        return _towards_middle(p, move, as_finite(previous))
    return None


def _towards_middle(p: ShapeParams, move: float, previous: float | None) -> bool | None:
    lower, upper = as_finite(p.lower), as_finite(p.upper)
    if lower is None or upper is None or previous is None:
        return None
    # Halving first keeps the midpoint finite for bounds near the float limit.
    middle = lower / 2 + upper / 2
    before = abs(previous - middle)
    after = abs(previous + move - middle)
    if after == before:
        return None
    return after < before
