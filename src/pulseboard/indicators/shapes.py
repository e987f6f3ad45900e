"""Indicator shapes and their parameters: the vocabulary and the validation rules.

Owns ``Shape``/``Direction``/``BaselineMode``, the ``ShapeParams`` record every
other layer passes around, and ``validate_params``, the one place that decides
whether a set of parameters (DESIGN §2) is acceptable. Pure: no Django, no I/O.

Decisions:
- Every problem is reported at once, keyed by field name, so a form can mark
  all bad fields in one round trip.
- Parameters that do not apply to the shape (a ``threshold`` left over on a
  ``stay_between``, a ``baseline`` with a ``prior_period`` trend) are dropped
  from the normalised copy, because a shape change keeps the old columns. A
  *warning band* of the wrong kind (``warn_at`` on a band shape,
  ``warn_margin`` on a floor/ceiling) is an error, as DESIGN §2 asks.
- NaN or infinity in any numeric field, relevant or not, is an error, and so
  is a non-number (``bool`` included): nothing odd is ever stored.
- ``stay_between`` rejects a ``warn_margin`` whose double exceeds the band
  width: such a band could never be green. A margin of exactly half the
  width leaves the midpoint green and is allowed.
- A warning band must be strictly inside the good side: ``warn_at`` equal to
  the threshold would be an empty band and is rejected.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum

from pulseboard.indicators.durations import DurationError, format_duration, parse_duration


class Shape(StrEnum):
    STAY_ABOVE = "stay_above"
    STAY_BELOW = "stay_below"
    STAY_BETWEEN = "stay_between"
    TREND = "trend"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class BaselineMode(StrEnum):
    FIXED = "fixed"
    PRIOR_PERIOD = "prior_period"


@dataclass(frozen=True)
class ShapeParams:
    shape: str
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: str | None = None
    baseline: float | None = None
    baseline_mode: str = "fixed"
    baseline_period: str | None = None
    warn_at: float | None = None
    warn_margin: float | None = None


class ShapeValidationError(ValueError):
    """Parameters that do not fit their shape; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


_NUMERIC_FIELDS = ("threshold", "lower", "upper", "baseline", "warn_at", "warn_margin")
_SHAPES = ", ".join(shape.value for shape in Shape)


def as_finite(value: object) -> float | None:
    """The value as a finite float, or None when it is not one (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def validate_params(p: ShapeParams) -> ShapeParams:
    """Check ``p`` against DESIGN §2 and return a normalised copy, or raise with every error.

    The copy carries enum values, floats, a canonical ``baseline_period``
    ("1w" -> "7d") and None in every field the shape does not use.
    """
    errors: dict[str, str] = {}
    numbers: dict[str, float | None] = {}
    for field in _NUMERIC_FIELDS:
        raw = getattr(p, field)
        numbers[field] = as_finite(raw)
        if raw is not None and numbers[field] is None:
            errors[field] = f"{field} must be a finite number"

    shape_text = _text(p.shape)
    if shape_text not in set(Shape):
        errors["shape"] = f"shape must be one of {_SHAPES}"
        raise ShapeValidationError(errors)
    shape = Shape(shape_text)

    def require(field: str) -> float | None:
        if getattr(p, field) is None:
            errors[field] = f"{field} is required for {shape.value}"
        return numbers[field]

    normal = ShapeParams(shape=shape)
    if shape in (Shape.STAY_ABOVE, Shape.STAY_BELOW):
        threshold = require("threshold")
        _forbid(p, "warn_margin", "warn_at", errors)
        warn_at = numbers["warn_at"]
        if threshold is not None and warn_at is not None:
            if shape is Shape.STAY_ABOVE and not warn_at > threshold:
                errors["warn_at"] = "warn_at must be above the floor (threshold) for stay_above"
            if shape is Shape.STAY_BELOW and not warn_at < threshold:
                errors["warn_at"] = "warn_at must be below the ceiling (threshold) for stay_below"
        normal = dataclasses.replace(normal, threshold=threshold, warn_at=warn_at)
    elif shape is Shape.STAY_BETWEEN:
        lower, upper = require("lower"), require("upper")
        _forbid(p, "warn_at", "warn_margin", errors)
        margin = _margin(numbers["warn_margin"], errors)
        if lower is not None and upper is not None:
            if upper < lower:
                errors["upper"] = "upper must be >= lower"
            elif margin is not None and 2 * margin > upper - lower:
                errors["warn_margin"] = (
                    "warn_margin is too wide: twice the margin exceeds the band "
                    "(upper - lower), so the value could never be green"
                )
        normal = dataclasses.replace(normal, lower=lower, upper=upper, warn_margin=margin)
    else:
        normal = _validate_trend(p, numbers, errors)

    if errors:
        raise ShapeValidationError(errors)
    return normal


def _forbid(p: ShapeParams, field: str, use_instead: str, errors: dict[str, str]) -> None:
    if getattr(p, field) is not None:
        errors[field] = f"{field} does not apply to {p.shape}; use {use_instead}"


def _margin(margin: float | None, errors: dict[str, str]) -> float | None:
    if margin is not None and margin < 0:
        errors["warn_margin"] = "warn_margin must be >= 0"
    return margin


def _validate_trend(
    p: ShapeParams,
    numbers: dict[str, float | None],
    errors: dict[str, str],
) -> ShapeParams:
    direction_text = _text(p.direction)
    direction = Direction(direction_text) if direction_text in set(Direction) else None
    if direction is None:
        errors["direction"] = "direction must be up or down for trend"
    _forbid(p, "warn_at", "warn_margin", errors)
    margin = _margin(numbers["warn_margin"], errors)

    mode_text = _text(p.baseline_mode)
    if mode_text not in set(BaselineMode):
        errors["baseline_mode"] = "baseline_mode must be fixed or prior_period"
        return ShapeParams(shape=Shape.TREND)
    mode = BaselineMode(mode_text)
    baseline: float | None = None
    period: str | None = None
    if mode is BaselineMode.FIXED:
        if p.baseline is None:
            errors["baseline"] = "baseline is required for a trend with a fixed baseline"
        baseline = numbers["baseline"]
    else:
        if p.baseline_period is None or p.baseline_period == "":
            errors["baseline_period"] = (
                "baseline_period is required for a prior_period trend, e.g. 7d, 30d or 90d"
            )
        else:
            try:
                period = format_duration(parse_duration(p.baseline_period))
            except DurationError as exc:
                errors["baseline_period"] = f"baseline_period: {exc}"
    return ShapeParams(
        shape=Shape.TREND,
        direction=direction,
        baseline=baseline,
        baseline_mode=mode,
        baseline_period=period,
        warn_margin=margin,
    )
