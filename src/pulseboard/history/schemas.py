"""API shapes of a KPI's history: the range query and the rows of a JSON export."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, model_validator

from pulseboard.core.api_input import ApiDatetime, ObservedAt
from pulseboard.indicators.schemas import KpiOut, Number, StatusName


class HistoryQuery(Schema):
    since: ApiDatetime | None = Field(default=None, description="rows observed at or after")
    until: ApiDatetime | None = Field(default=None, description="rows observed before")
    format: Literal["json", "csv"] = "json"

    @model_validator(mode="after")
    def _ordered(self) -> HistoryQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class HistoryRowOut(Schema):
    observed_at: datetime
    value: float
    status: StatusName
    source: str = Field(description="manual, api, webhook, https_get, sheets or demo")
    recorded_at: datetime


class HistoryOut(Schema):
    kpi_id: str
    history: list[HistoryRowOut] = Field(description="oldest first")


class ValueIn(Schema):
    """A manual value write; ``observed_at`` defaults to now and must carry a zone offset."""

    model_config = ConfigDict(extra="forbid")

    value: Number
    observed_at: ObservedAt | None = None


class ValueOut(Schema):
    applied: bool = Field(
        description="false for a late write: recorded in history, current value unchanged"
    )
    value: float
    observed_at: datetime
    status: StatusName = Field(description="the status this value has (stored with its history)")
    kpi: KpiOut


class ImportOut(Schema):
    """What a history import did (DESIGN §14)."""

    rows: int = Field(description="data rows in the file")
    imported: int = Field(description="new history rows written")
    skipped: int = Field(description="rows at an observed_at the history already held")
    first_observed_at: datetime = Field(description="the file's oldest row")
    last_observed_at: datetime = Field(description="the file's newest row")
    applied: bool = Field(
        description="the newest imported row was newer than the current value and replaced it"
    )
    kpi: KpiOut


class BatchItemIn(Schema):
    """One value of a batch: like ``ValueIn``, with the KPI it is for."""

    model_config = ConfigDict(extra="forbid")

    kpi_id: str = Field(max_length=64)
    value: Number
    observed_at: ObservedAt | None = None


class BatchItemOut(Schema):
    kpi_id: str
    applied: bool = Field(
        description="false for a late write: recorded in history, current value unchanged"
    )
    value: float
    observed_at: datetime
    status: StatusName


class BatchOut(Schema):
    recorded: int = Field(description="how many values were recorded (all of them)")
    items: list[BatchItemOut] = Field(description="in the order they were sent")
