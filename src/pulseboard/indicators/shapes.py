"""Indicator shapes and their parameters: the vocabulary and the validation rules.

Owns ``Shape``/``Direction``/``BaselineMode``, ``SHAPE_PARAMS`` (which parameters
each shape takes, required or optional: the one map the form, the template, the
API schema and validation read), the ``ShapeParams`` record every other layer
passes around, and ``validate_params``, the one place that decides whether a set
of parameters (DESIGN §2) is acceptable. Pure: no Django, no I/O.

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

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

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
class Param:
    """One parameter of a shape: its field name, whether it must be given, and, for the
    trend's baseline, the baseline mode it belongs to (it is ignored under the other)."""

    name: str
    required: bool = False
    baseline_mode: BaselineMode | None = None
    # The message when a required parameter is missing, where the generic one says too little.
    missing: str | None = None


# The one list of which parameters each shape takes (DESIGN §2). Validation, the web
# form (which fields it shows and sends), the API schema and the form template's
# per-shape map are all read from here.
SHAPE_PARAMS: Mapping[Shape, tuple[Param, ...]] = MappingProxyType(
    {
        Shape.STAY_ABOVE: (Param("threshold", required=True), Param("warn_at")),
        Shape.STAY_BELOW: (Param("threshold", required=True), Param("warn_at")),
        Shape.STAY_BETWEEN: (
            Param("lower", required=True),
            Param("upper", required=True),
            Param("warn_margin"),
        ),
        Shape.TREND: (
            Param("direction", required=True, missing="direction must be up or down for trend"),
            Param("baseline_mode"),
            Param(
                "baseline",
                required=True,
                baseline_mode=BaselineMode.FIXED,
                missing="baseline is required for a trend with a fixed baseline",
            ),
            Param(
                "baseline_period",
                required=True,
                baseline_mode=BaselineMode.PRIOR_PERIOD,
                missing="baseline_period is required for a prior_period trend, e.g. 7d, 30d or 90d",
            ),
            Param("warn_margin"),
        ),
    }
)
# The warning bands: a shape takes one of them, and sending the other is an error.
WARNING_PARAMS = ("warn_at", "warn_margin")


def _param_names() -> tuple[str, ...]:
    names: dict[str, None] = {}
    for params in SHAPE_PARAMS.values():
        for param in params:
            # Moved to the end on each use: a name several shapes share lands after the
            # last of them, so a form laid out in this order shows it below every
            # shape's own fields.
            names.pop(param.name, None)
            names[param.name] = None
    return tuple(names)


PARAM_NAMES: tuple[str, ...] = _param_names()


def params_of(shape: str, baseline_mode: str | None = None) -> tuple[str, ...]:
    """The names of the parameters ``shape`` uses (all modes when ``baseline_mode`` is None);
    an unknown shape uses none."""
    if shape not in set(Shape):
        return ()
    return tuple(
        param.name
        for param in SHAPE_PARAMS[Shape(shape)]
        if baseline_mode is None
        or param.baseline_mode is None
        or param.baseline_mode == baseline_mode
    )


def shape_params_doc() -> str:
    """SHAPE_PARAMS in one line of prose, for API schemas and help texts."""
    parts = []
    for shape, params in SHAPE_PARAMS.items():
        names = []
        for param in params:
            need = "required" if param.required else "optional"
            if param.baseline_mode is not None:
                need = f"required when baseline_mode is {param.baseline_mode.value}"
            names.append(f"{param.name} ({need})")
        parts.append(f"{shape.value}: {', '.join(names)}")
    return "; ".join(parts)


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
    params = SHAPE_PARAMS[shape]
    names = {param.name for param in params}

    mode: BaselineMode | None = None
    if "baseline_mode" in names:
        mode_text = _text(p.baseline_mode)
        if mode_text in set(BaselineMode):
            mode = BaselineMode(mode_text)
        else:
            errors["baseline_mode"] = "baseline_mode must be fixed or prior_period"

    values: dict[str, object] = {}
    for param in params:
        if param.baseline_mode is not None and param.baseline_mode is not mode:
            continue
        values[param.name] = _param_value(p, param, shape, mode, numbers, errors)
    for name in WARNING_PARAMS:
        if name not in names and getattr(p, name) is not None:
            (use_instead,) = (other for other in WARNING_PARAMS if other in names)
            errors[name] = f"{name} does not apply to {p.shape}; use {use_instead}"
    _check_relations(shape, values, errors)

    if errors:
        raise ShapeValidationError(errors)
    return ShapeParams(shape=shape, **values)  # type: ignore[arg-type]


def _param_value(
    p: ShapeParams,
    param: Param,
    shape: Shape,
    mode: BaselineMode | None,
    numbers: dict[str, float | None],
    errors: dict[str, str],
) -> object:
    """The normalised value of one parameter the shape uses; a problem goes into ``errors``."""
    raw = getattr(p, param.name)
    if param.required and (raw is None or raw == "") and param.name not in errors:
        errors[param.name] = param.missing or f"{param.name} is required for {shape.value}"
    if param.name in numbers:
        number = numbers[param.name]
        if param.name == "warn_margin" and number is not None and number < 0:
            errors["warn_margin"] = "warn_margin must be >= 0"
        return number
    if param.name == "direction":
        direction_text = _text(raw)
        if direction_text in set(Direction):
            return Direction(direction_text)
        errors["direction"] = param.missing or "direction must be up or down"
        return None
    if param.name == "baseline_mode":
        return mode
    if param.name == "baseline_period" and param.name not in errors:
        try:
            return format_duration(parse_duration(raw))
        except DurationError as exc:
            errors["baseline_period"] = f"baseline_period: {exc}"
    return None


def _check_relations(shape: Shape, values: dict[str, object], errors: dict[str, str]) -> None:
    """The rules between parameters: a warning band inside the good side, an ordered band."""
    if shape in (Shape.STAY_ABOVE, Shape.STAY_BELOW):
        threshold, warn_at = values["threshold"], values["warn_at"]
        if isinstance(threshold, float) and isinstance(warn_at, float):
            if shape is Shape.STAY_ABOVE and not warn_at > threshold:
                errors["warn_at"] = "warn_at must be above the floor (threshold) for stay_above"
            if shape is Shape.STAY_BELOW and not warn_at < threshold:
                errors["warn_at"] = "warn_at must be below the ceiling (threshold) for stay_below"
    elif shape is Shape.STAY_BETWEEN:
        lower, upper, margin = values["lower"], values["upper"], values["warn_margin"]
        if isinstance(lower, float) and isinstance(upper, float):
            if upper < lower:
                errors["upper"] = "upper must be >= lower"
            elif isinstance(margin, float) and margin >= 0 and 2 * margin > upper - lower:
                errors["warn_margin"] = (
                    "warn_margin is too wide: twice the margin exceeds the band "
                    "(upper - lower), so the value could never be green"
                )
