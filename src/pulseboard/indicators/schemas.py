"""API shapes of a KPI: what create/patch accept (``KpiIn``, ``KpiPatch``), what reads return
(``KpiOut``, built from the same ``KpiCard`` the web shows) and title parsing.

Input schemas check types (field-level 422s) and hand a ``KpiSpec`` to the services,
which check the rules (shape parameters, durations, parent cycles) as they do for the
web form and answer in the same ``{"detail", "errors"}`` form. The enums are the pure
modules' vocabularies, never retyped here. Names are DESIGN §10's.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.selectors import KpiCard
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape, shape_params_doc
from pulseboard.indicators.spec import (
    DEFAULT_COMPARE_PERIOD,
    MAX_DESCRIPTION,
    MAX_DURATION_TEXT,
    MAX_ID,
    MAX_OBJECT_ID,
    MAX_POSITION,
    MAX_TITLE,
    MAX_UNIT_LABEL,
    Category,
    KpiSpec,
)
from pulseboard.indicators.status import Status


def _values_of(vocabulary: type[StrEnum]) -> Any:
    """A vocabulary of the pure modules as a Literal: the schema lists its values as an enum
    and a wrong one is a 422 naming them, as if they were written out here."""
    return Literal[tuple(member.value for member in vocabulary)]


if TYPE_CHECKING:
    ShapeName = str
    DirectionName = str
    BaselineModeName = str
    UnitTypeName = str
    DisplayFormatName = str
    CategoryName = str
    StatusName = str
else:
    ShapeName = _values_of(Shape)
    DirectionName = _values_of(Direction)
    BaselineModeName = _values_of(BaselineMode)
    UnitTypeName = _values_of(UnitType)
    DisplayFormatName = _values_of(DisplayFormat)
    CategoryName = _values_of(Category)
    StatusName = _values_of(Status)
# JSON numbers only: no strings, no booleans, no NaN/Infinity.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Duration = Annotated[str, Field(max_length=MAX_DURATION_TEXT, examples=["1h", "1d", "7d"])]
UserId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
TeamId = Annotated[str, Field(min_length=1, max_length=MAX_OBJECT_ID)]
OWNER_DOC = "the user id of a member of the org (GET /members lists them); null: no owner"
TEAM_DOC = "the id of one of the org's teams (GET /teams); null: no team"
SHAPE_DOC = f"The target's shape and the parameters it takes: {shape_params_doc()}."
# Default of KpiPatch fields that may not be null: absent means "keep", and
# exclude_unset drops them before the service sees the data.
KEEP: Any = None


def _without_defaults(schema: dict[str, Any]) -> None:
    # A PATCH field left out keeps its value; a "default" in the schema would say otherwise.
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class KpiIn(Schema):
    """Create a KPI: ``title`` and ``shape`` with its parameters are required."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    shape: ShapeName = Field(description=SHAPE_DOC)
    threshold: Number | None = None
    lower: Number | None = None
    upper: Number | None = None
    direction: DirectionName | None = None
    baseline: Number | None = None
    baseline_mode: BaselineModeName = BaselineMode.FIXED.value
    baseline_period: Duration | None = None
    warn_at: Number | None = None
    warn_margin: Number | None = None
    unit_type: UnitTypeName = UnitType.NUMBER.value
    unit_label: str = Field(default="", max_length=MAX_UNIT_LABEL)
    display_format: DisplayFormatName = DisplayFormat.DECIMAL_1.value
    published: bool = False
    position: int | None = Field(default=None, ge=0, le=MAX_POSITION, strict=True)
    category: CategoryName | None = None
    parent_id: str | None = Field(default=None, max_length=32)
    expected_every: Duration | None = None
    compare_period: Duration = DEFAULT_COMPARE_PERIOD
    owner_id: UserId | None = Field(default=None, description=OWNER_DOC)
    team_id: TeamId | None = Field(default=None, description=TEAM_DOC)

    def spec(self) -> KpiSpec:
        """The definition this body asks for, as ``kpi_create`` takes it."""
        return KpiSpec(**self.model_dump())


class KpiPatch(Schema):
    """Edit a KPI: send only the fields to change; ``null`` clears an optional one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    title: str = Field(default=KEEP, min_length=1, max_length=MAX_TITLE)
    description: str = Field(default=KEEP, max_length=MAX_DESCRIPTION)
    shape: ShapeName = Field(default=KEEP, description=SHAPE_DOC)
    threshold: Number | None = None
    lower: Number | None = None
    upper: Number | None = None
    direction: DirectionName | None = None
    baseline: Number | None = None
    baseline_mode: BaselineModeName = KEEP
    baseline_period: Duration | None = None
    warn_at: Number | None = None
    warn_margin: Number | None = None
    unit_type: UnitTypeName = KEEP
    unit_label: str = Field(default=KEEP, max_length=MAX_UNIT_LABEL)
    display_format: DisplayFormatName = KEEP
    published: bool = KEEP
    position: int = Field(default=KEEP, ge=0, le=MAX_POSITION, strict=True)
    category: CategoryName | None = None
    parent_id: str | None = Field(default=KEEP, max_length=32)
    expected_every: Duration | None = None
    compare_period: Duration = KEEP
    owner_id: UserId | None = Field(default=None, description=OWNER_DOC)
    team_id: TeamId | None = Field(default=None, description=TEAM_DOC)

    def changes(self) -> dict[str, Any]:
        """The fields sent, for ``spec_patched``: absent ones keep their value."""
        return self.model_dump(exclude_unset=True)


class KpiOut(Schema):
    """A KPI as every surface shows it: definition, current value, status and display text."""

    id: str
    title: str
    description: str
    shape: ShapeName = Field(description=SHAPE_DOC)
    threshold: float | None
    lower: float | None
    upper: float | None
    direction: DirectionName | None
    baseline: float | None
    baseline_mode: BaselineModeName
    baseline_period: str | None
    warn_at: float | None
    warn_margin: float | None
    unit_type: UnitTypeName
    unit_label: str
    display_format: DisplayFormatName
    published: bool
    position: int
    category: CategoryName | None
    parent_id: str | None
    expected_every: str | None
    compare_period: str
    current_value: float | None
    observed_at: datetime | None
    status: StatusName
    status_since: datetime | None = Field(description="when the current status began")
    owner_id: int | None = Field(description="the user id of the member who owns it")
    team_id: str | None = Field(description="the team whose board shows it")
    stale: bool
    change_abs: float | None = Field(description="current value minus the value one period ago")
    change_pct: float | None = Field(description="the same in percent (null when that was 0)")
    change_text: str = Field(description="the change as the web shows it, e.g. '+3.2% vs 7d'")
    formatted_value: str
    target_phrase: str
    source_kind: str = Field(description="manual, webhook, https_get or sheets")
    last_pulled_at: datetime | None
    source_failing: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_card(cls, card: KpiCard) -> KpiOut:
        kpi = card.kpi
        return cls(
            id=kpi.pk,
            title=kpi.title,
            description=kpi.description,
            shape=kpi.shape,
            threshold=kpi.threshold,
            lower=kpi.lower,
            upper=kpi.upper,
            direction=kpi.direction or None,
            baseline=kpi.baseline,
            baseline_mode=kpi.baseline_mode,
            baseline_period=kpi.baseline_period or None,
            warn_at=kpi.warn_at,
            warn_margin=kpi.warn_margin,
            unit_type=kpi.unit_type,
            unit_label=kpi.unit_label,
            display_format=kpi.display_format,
            published=kpi.published,
            position=kpi.position,
            category=kpi.category or None,
            parent_id=kpi.parent_id,
            expected_every=kpi.expected_every or None,
            compare_period=kpi.compare_period,
            current_value=kpi.current_value,
            observed_at=kpi.observed_at,
            status=card.status,
            status_since=kpi.status_since,
            owner_id=kpi.owner_id,
            team_id=kpi.team_id,
            stale=card.stale,
            change_abs=card.change_abs,
            change_pct=card.change_pct,
            change_text=card.change_text,
            formatted_value=card.formatted_value,
            target_phrase=card.target_phrase,
            source_kind=card.source_kind,
            last_pulled_at=card.last_pulled_at,
            source_failing=card.source_failing,
            created_at=kpi.created_at,
            updated_at=kpi.updated_at,
        )


class ParseTitleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=1000)


class SuggestedFieldsOut(Schema):
    """The KPI fields a title fills in, ready for ``POST /kpis`` (null: the title says nothing
    about it). The web's quick-create Apply fills the same fields."""

    title: str | None = None
    shape: ShapeName | None = None
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: DirectionName | None = None
    baseline: float | None = None
    baseline_mode: BaselineModeName | None = None
    baseline_period: str | None = None
    unit_type: UnitTypeName | None = None
    unit_label: str | None = None
    display_format: DisplayFormatName | None = None


class ParseTitleOut(Schema):
    """What a title suggests; every field is null when it names no shape."""

    shape: ShapeName | None = None
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: DirectionName | None = None
    baseline: float | None = None
    unit_type: UnitTypeName | None = None
    unit_label: str | None = None
    metric: str | None = None
    fields: SuggestedFieldsOut | None = Field(
        default=None,
        description="the KPI fields to fill in: the detected target with the defaults that "
        "make it valid (a trend without a baseline compares with its value 30d ago)",
    )
