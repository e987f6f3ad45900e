"""A KPI's definition as the services take it: ``KpiSpec``, and the one place that checks it.

Owns ``KpiSpec`` (every writable field of a KPI, typed with the vocabularies of the
pure modules), the ``Category`` vocabulary, the field limits, ``validate_spec`` (every
rule that needs no database, all errors at once, keyed by field) and ``spec_patched``
(what a PATCH of some fields makes of a whole definition). The API (``KpiIn`` /
``KpiPatch``) and the web form both build a ``KpiSpec`` and hand it to the services,
so a rule is written once and reads the same through both. Pure: no Django, no I/O.

Decisions:
- A spec is a whole definition: an edit sends every field (the API's PATCH merges its
  fields into the stored definition with ``spec_patched`` first). ``position`` None
  means "not given": the end of Home for a new KPI, unchanged for an edit.
- Text fields that may be empty are None when empty; titles are stripped.
- ``baseline_period`` is checked whatever the shape: a malformed value is refused,
  not silently dropped with the parameters the shape does not use.
- The runtime types are checked too (a ``KpiSpec`` built by hand may carry anything):
  a wrong type is a field error, never an exception.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pulseboard.core.errors import ValidationFailed
from pulseboard.indicators.durations import DurationError, parse_duration
from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.shapes import (
    PARAM_NAMES,
    BaselineMode,
    Direction,
    Shape,
    ShapeParams,
    ShapeValidationError,
    validate_params,
)

MAX_TITLE: Final = 200
MAX_DESCRIPTION: Final = 2000
MAX_UNIT_LABEL: Final = 20
MAX_DURATION_TEXT: Final = 10
MAX_POSITION: Final = 2_147_483_647  # PositiveIntegerField on PostgreSQL
DEFAULT_COMPARE_PERIOD: Final = "7d"
MAX_ID: Final = 2**63 - 1  # a user id (BigAutoField)
MAX_OBJECT_ID: Final = 32  # core.ids.new_id() ids


class Category(StrEnum):
    """Where a KPI sits in cause and effect: it moves first (leading) or shows results."""

    LEADING = "leading"
    LAGGING = "lagging"


@dataclass(frozen=True, kw_only=True)
class KpiSpec:
    """Every writable field of a KPI (DESIGN §2, §4); the shape parameters as in ``ShapeParams``."""

    title: str
    shape: Shape
    description: str = ""
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: Direction | None = None
    baseline: float | None = None
    baseline_mode: BaselineMode = BaselineMode.FIXED
    baseline_period: str | None = None
    warn_at: float | None = None
    warn_margin: float | None = None
    unit_type: UnitType = UnitType.NUMBER
    unit_label: str = ""
    display_format: DisplayFormat = DisplayFormat.DECIMAL_1
    published: bool = False
    position: int | None = None
    category: Category | None = None
    parent_id: str | None = None
    expected_every: str | None = None
    compare_period: str = DEFAULT_COMPARE_PERIOD
    # Who answers for the number (the user id of a member) and the team whose board
    # shows it (DESIGN §13); the services check both belong to the KPI's org.
    owner_id: int | None = None
    team_id: str | None = None

    @property
    def params(self) -> ShapeParams:
        return ShapeParams(
            shape=self.shape,
            threshold=self.threshold,
            lower=self.lower,
            upper=self.upper,
            direction=self.direction,
            baseline=self.baseline,
            baseline_mode=self.baseline_mode,
            baseline_period=self.baseline_period,
            warn_at=self.warn_at,
            warn_margin=self.warn_margin,
        )


SPEC_FIELDS: Final = tuple(field.name for field in dataclasses.fields(KpiSpec))
SHAPE_FIELDS: Final = ("shape", *PARAM_NAMES)
_DEFAULTS: Final = {
    field.name: field.default
    for field in dataclasses.fields(KpiSpec)
    if field.default is not dataclasses.MISSING
}


class KpiSpecInvalid(ValidationFailed):
    """A definition that breaks a rule; ``errors`` maps every bad field to its message.

    A ``ValidationFailed``, so the API answers it with a 422 and a form puts each message
    on its field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(summary(errors), errors=dict(errors))


def summary(errors: Mapping[str, str]) -> str:
    """The field errors in one line, as the API's ``detail`` shows them."""
    return "; ".join(f"{field}: {message}" for field, message in errors.items())


def validate_spec(spec: KpiSpec) -> KpiSpec:
    """``spec`` checked and normalised (enum members, stripped title, canonical periods), or
    ``KpiSpecInvalid`` naming every bad field at once."""
    errors: dict[str, str] = {}
    title = spec.title.strip() if isinstance(spec.title, str) else ""
    if not title:
        errors["title"] = "title is required"
    elif len(title) > MAX_TITLE:
        errors["title"] = f"title must be at most {MAX_TITLE} characters"
    description = "" if spec.description is None else spec.description
    if not isinstance(description, str):
        errors["description"] = "description must be text"
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = f"description must be at most {MAX_DESCRIPTION} characters"
    unit_type = _choice("unit_type", spec.unit_type, UnitType, errors)
    unit_label = "" if spec.unit_label is None else spec.unit_label
    if not isinstance(unit_label, str) or len(unit_label) > MAX_UNIT_LABEL:
        errors["unit_label"] = f"unit_label must be text of at most {MAX_UNIT_LABEL} characters"
    display_format = _choice("display_format", spec.display_format, DisplayFormat, errors)
    category = (
        None
        if spec.category in (None, "")
        else _choice("category", spec.category, Category, errors)
    )
    if not isinstance(spec.published, bool):
        errors["published"] = "published must be true or false"
    position = spec.position
    if position is not None and (
        isinstance(position, bool)
        or not isinstance(position, int)
        or not 0 <= position <= MAX_POSITION
    ):
        errors["position"] = f"position must be a whole number from 0 to {MAX_POSITION}"
    if spec.parent_id is not None and not isinstance(spec.parent_id, str):
        errors["parent_id"] = "parent_id must be a KPI id"
    owner_id = spec.owner_id
    if owner_id is not None and (
        isinstance(owner_id, bool) or not isinstance(owner_id, int) or not 0 < owner_id <= MAX_ID
    ):
        errors["owner_id"] = "owner_id must be the user id of a member (a whole number)"
    team_id = spec.team_id or None
    if team_id is not None and (not isinstance(team_id, str) or len(team_id) > MAX_OBJECT_ID):
        errors["team_id"] = "team_id must be a team id"
    expected_every = _duration("expected_every", spec.expected_every, errors, optional=True)
    compare_period = _duration("compare_period", spec.compare_period, errors, optional=False)
    _duration("baseline_period", spec.baseline_period, errors, optional=True)

    params = spec.params
    try:
        params = validate_params(spec.params)
    except ShapeValidationError as exc:
        # A field-level complaint (a malformed period) is the clearer message: keep it.
        errors = {**exc.errors, **errors}
    if errors:
        raise KpiSpecInvalid(errors)
    return dataclasses.replace(
        spec,
        title=title,
        description=description,
        shape=Shape(params.shape),
        threshold=params.threshold,
        lower=params.lower,
        upper=params.upper,
        direction=Direction(params.direction) if params.direction else None,
        baseline=params.baseline,
        baseline_mode=BaselineMode(params.baseline_mode),
        baseline_period=params.baseline_period,
        warn_at=params.warn_at,
        warn_margin=params.warn_margin,
        unit_type=UnitType(unit_type),
        unit_label=unit_label,
        display_format=DisplayFormat(display_format),
        category=Category(category) if category else None,
        parent_id=spec.parent_id or None,
        team_id=team_id,
        expected_every=expected_every,
        compare_period=compare_period or DEFAULT_COMPARE_PERIOD,
    )


def spec_patched(spec: KpiSpec, changes: Mapping[str, Any]) -> KpiSpec:
    """``spec`` with ``changes`` (field name -> new value) applied, as a PATCH means them.

    A new shape starts from its own parameters: those of the old shape that the
    changes do not name are reset, since they would not fit it (a stay_above
    ``warn_at`` on a trend). Unknown field names raise ``KpiSpecInvalid``.
    """
    unknown = sorted(set(changes) - set(SPEC_FIELDS))
    if unknown:
        raise KpiSpecInvalid({name: f"unknown field '{name}'" for name in unknown})
    reset: dict[str, Any] = {}
    if "shape" in changes and changes["shape"] != spec.shape:
        reset = {name: _DEFAULTS[name] for name in PARAM_NAMES if name not in changes}
    return dataclasses.replace(spec, **{**reset, **changes})


def _choice(name: str, raw: object, vocabulary: type[StrEnum], errors: dict[str, str]) -> str:
    if not isinstance(raw, str) or raw not in set(vocabulary):
        errors[name] = f"{name} must be one of: {', '.join(vocabulary)}"
        return ""
    return raw


def _duration(name: str, raw: object, errors: dict[str, str], *, optional: bool) -> str | None:
    if raw is None or raw == "":
        if not optional:
            errors[name] = f"{name} is required"
        return None
    if not isinstance(raw, str):
        errors[name] = f"{name} must be a duration such as 1h, 1d or 7d"
        return None
    text = raw.strip()
    if len(text) > MAX_DURATION_TEXT:
        errors[name] = f"{name} must be at most {MAX_DURATION_TEXT} characters, such as 7d"
        return None
    try:
        parse_duration(text)
    except DurationError as exc:
        errors[name] = str(exc)
        return None
    return text
