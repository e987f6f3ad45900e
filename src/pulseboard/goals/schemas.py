"""API shapes of goals (DESIGN §11): cycles, objectives with their key results, check-ins and
progress points.

Input schemas check types (field-level 422s: numbers are JSON numbers, never NaN
or Infinity; dates are ``YYYY-MM-DD``); the services check the rules (end on or
after start, start ≠ target, ids of the same organization) and answer in the
same ``{"detail", "errors"}`` form. Field names are DESIGN §11's.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field

from pulseboard.goals.models import CheckIn
from pulseboard.goals.progress import MAX_ABS_VALUE, MAX_WEIGHT
from pulseboard.goals.selectors import KeyResultCard, ObjectiveCard, ProgressPoint
from pulseboard.goals.services import MAX_DESCRIPTION, MAX_NAME, MAX_NOTE, MAX_TITLE
from pulseboard.indicators.schemas import DisplayFormatName, UnitTypeName

KindName = Literal["increase_to", "decrease_to", "stay_above", "stay_below"]
GoalStatusName = Literal["on_track", "at_risk", "behind", "achieved", "missed", "unknown"]
CycleStateName = Literal["upcoming", "active", "closed"]
# JSON numbers only (no strings, booleans, NaN or Infinity), within what a goal needs.
GoalNumber = Annotated[
    float, Field(strict=True, allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)
]
Weight = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=MAX_WEIGHT)]
UserId = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
ObjectId = Annotated[str, Field(max_length=32)]
# Default of patch fields that may not be null: absent means "keep".
KEEP: Any = None


def _date_text(value: Any) -> Any:
    # Pydantic would also take a number (a Unix time) or a date-time; the API promises a date.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date string YYYY-MM-DD, e.g. 2027-01-01")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("must be a date string YYYY-MM-DD, e.g. 2027-01-01") from exc


DateText = Annotated[date, BeforeValidator(_date_text)]


def _same_names(source: Any, *names: str) -> dict[str, Any]:
    """``source``'s attributes under their own names, for an output schema (``id``: its pk)."""
    return {name: source.pk if name == "id" else getattr(source, name) for name in names}


def _without_defaults(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class CycleIn(Schema):
    """A cycle: dates in the organization's timezone, the end date inclusive."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME, examples=["Q1 2027"])
    starts_on: DateText
    ends_on: DateText


class CyclePatch(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    name: str = Field(default=KEEP, min_length=1, max_length=MAX_NAME)
    starts_on: DateText = KEEP
    ends_on: DateText = KEEP


class CycleOut(Schema):
    id: str
    name: str
    starts_on: date
    ends_on: date
    state: CycleStateName = Field(description="by today's date in the organization's timezone")
    timezone: str = Field(description="the organization's timezone the dates are in")
    created_at: datetime
    updated_at: datetime


class ObjectiveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    cycle_id: ObjectId
    owner_id: UserId | None = Field(default=None, description="the user id of a member")
    team_id: ObjectId | None = Field(default=None, description="the id of one of the org's teams")


class ObjectivePatch(Schema):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    title: str = Field(default=KEEP, min_length=1, max_length=MAX_TITLE)
    description: str = Field(default=KEEP, max_length=MAX_DESCRIPTION)
    cycle_id: ObjectId = Field(default=KEEP, description="move the objective to this cycle")
    owner_id: UserId | None = None
    team_id: ObjectId | None = Field(default=None, description="a team of the org; null: none")


class KeyResultIn(Schema):
    """A key result; with ``kpi_id`` it follows that KPI (and borrows its units)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    kind: KindName
    start_value: GoalNumber | None = Field(
        default=None, description="required for increase_to / decrease_to; unused by stay kinds"
    )
    target_value: GoalNumber
    kpi_id: ObjectId | None = None
    owner_id: UserId | None = None
    weight: Weight = 1.0
    unit_type: UnitTypeName = "number"
    unit_label: str = Field(default="", max_length=20)
    display_format: DisplayFormatName = "decimal_1"


class KeyResultPatch(Schema):
    """Edit a key result: send only the fields to change; ``objective_id`` moves it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    objective_id: ObjectId = KEEP
    title: str = Field(default=KEEP, min_length=1, max_length=MAX_TITLE)
    kind: KindName = KEEP
    start_value: GoalNumber | None = None
    target_value: GoalNumber = KEEP
    kpi_id: ObjectId | None = None
    owner_id: UserId | None = None
    weight: Weight = KEEP
    unit_type: UnitTypeName = KEEP
    unit_label: str = Field(default=KEEP, max_length=20)
    display_format: DisplayFormatName = KEEP


class KeyResultOut(Schema):
    id: str
    objective_id: str
    title: str
    kind: KindName
    start_value: float | None
    target_value: float
    kpi_id: str | None
    owner_id: int | None
    weight: float
    unit_type: UnitTypeName = Field(description="the KPI's when the key result follows one")
    unit_label: str
    display_format: DisplayFormatName
    current_value: float | None = Field(
        description="the KPI's current value (at the cycle's end once it closed), "
        "or the newest check-in"
    )
    formatted_current: str
    formatted_target: str
    target_phrase: str
    progress: float | None = Field(description="0..1; null without a value")
    expected_progress: float = Field(description="0..1: the elapsed part of the cycle")
    status: GoalStatusName
    checked_in_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_card(cls, card: KeyResultCard) -> KeyResultOut:
        return cls(
            **_same_names(
                card.key_result,
                *("id", "objective_id", "title", "kind", "start_value", "target_value"),
                *("kpi_id", "owner_id", "weight", "checked_in_at", "created_at", "updated_at"),
            ),
            **_same_names(card.units, "unit_type", "unit_label", "display_format"),
            **_same_names(
                card, "current_value", "formatted_current", "formatted_target", "target_phrase"
            ),
            **_same_names(card, "progress", "status"),
            expected_progress=card.expected,
        )


class ObjectiveOut(Schema):
    id: str
    title: str
    description: str
    cycle_id: str
    owner_id: int | None
    team_id: str | None
    progress: float | None = Field(description="weighted mean of its key results with a value")
    status: GoalStatusName = Field(description="the worst of its key results' (unknown ignored)")
    key_results: list[KeyResultOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_card(cls, card: ObjectiveCard) -> ObjectiveOut:
        return cls(
            **_same_names(
                card.objective,
                *("id", "title", "description", "cycle_id", "owner_id", "team_id"),
                *("created_at", "updated_at"),
            ),
            **_same_names(card, "progress", "status"),
            key_results=[KeyResultOut.from_card(kr) for kr in card.key_results],
        )


class CheckInIn(Schema):
    model_config = ConfigDict(extra="forbid")

    value: GoalNumber
    note: str = Field(default="", max_length=MAX_NOTE)


class CheckInOut(Schema):
    id: int
    key_result_id: str
    value: float
    note: str
    author: str
    created_at: datetime
    key_result: KeyResultOut

    @classmethod
    def of(cls, check_in: CheckIn, key_result: KeyResultOut) -> CheckInOut:
        """``check_in`` with its key result as it reads after the check-in."""
        return cls(
            **_same_names(check_in, "id", "key_result_id", "value", "note", "created_at"),
            author=check_in.author_label,
            key_result=key_result,
        )


class ProgressPointOut(Schema):
    at: datetime
    value: float
    progress: float | None
    expected_progress: float

    @classmethod
    def from_point(cls, point: ProgressPoint) -> ProgressPointOut:
        return cls(
            at=point.at,
            value=point.value,
            progress=point.progress,
            expected_progress=point.expected,
        )


class ProgressOut(Schema):
    key_result_id: str
    starts_at: datetime = Field(description="the cycle's first moment")
    ends_at: datetime = Field(description="the first moment after the cycle")
    points: list[ProgressPointOut] = Field(description="oldest first")
