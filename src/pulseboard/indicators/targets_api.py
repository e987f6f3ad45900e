"""Targets over time API: ``GET/PUT /kpis/{id}/targets`` (DESIGN §13).

Any token reads the schedule of a KPI it can see (read tokens: published KPIs); an
admin token replaces it with ``PUT``. Another org's KPI is a 404 like a missing one.
A bad entry is a 422 whose ``errors`` name the entry's index and field
(``"1.warn_at"``), and nothing is written.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict, Field

from pulseboard.core import clock
from pulseboard.core.api_errors import ERRORS
from pulseboard.core.api_input import ApiDatetime
from pulseboard.indicators.api import ADMIN, kpi_for
from pulseboard.indicators.evaluation import schedule_of, shape_params
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.schemas import Number
from pulseboard.indicators.targets import Schedule
from pulseboard.indicators.targets_services import kpi_targets_replace
from pulseboard.orgs.api_auth import principal, require_admin

router = Router(tags=["targets"])


class TargetIn(Schema):
    """One scheduled target: from ``effective_from`` on, these parameters of the KPI's shape."""

    model_config = ConfigDict(extra="forbid")

    effective_from: ApiDatetime = Field(
        description="when the entry comes into force (ISO 8601 with a zone offset)"
    )
    threshold: Number | None = Field(default=None, description="stay_above / stay_below")
    lower: Number | None = Field(default=None, description="stay_between")
    upper: Number | None = Field(default=None, description="stay_between")
    baseline: Number | None = Field(default=None, description="trend with a fixed baseline")
    warn_at: Number | None = Field(
        default=None, description="warning band of stay_above / stay_below (optional)"
    )
    warn_margin: Number | None = Field(
        default=None, description="warning margin of stay_between / trend (optional)"
    )


class TargetOut(Schema):
    effective_from: datetime
    threshold: float | None
    lower: float | None
    upper: float | None
    baseline: float | None
    warn_at: float | None
    warn_margin: float | None
    in_force: bool = Field(description="this entry's parameters hold now")


def _out(schedule: Schedule, kpi: Kpi) -> list[TargetOut]:
    current = schedule.in_force(clock.now(), shape_params(kpi))
    return [
        TargetOut(
            effective_from=entry.effective_from,
            threshold=entry.threshold,
            lower=entry.lower,
            upper=entry.upper,
            baseline=entry.baseline,
            warn_at=entry.warn_at,
            warn_margin=entry.warn_margin,
            in_force=entry == current,
        )
        for entry in schedule.entries
    ]


@router.get(
    "/kpis/{kpi_id}/targets",
    response={200: list[TargetOut], **ERRORS},
    operation_id="kpi_targets_get",
    url_name="kpi-targets",
    summary="The KPI's scheduled targets, oldest first",
)
def kpi_targets_get(request: HttpRequest, kpi_id: str) -> list[TargetOut]:
    kpi = kpi_for(principal(request), kpi_id)
    return _out(schedule_of(kpi), kpi)


@router.put(
    "/kpis/{kpi_id}/targets",
    auth=ADMIN,
    response={200: list[TargetOut], **ERRORS},
    operation_id="kpi_targets_put",
    url_name="kpi-targets",
    summary="Replace the KPI's scheduled targets (admin); [] clears them",
)
def kpi_targets_put(request: HttpRequest, kpi_id: str, payload: list[TargetIn]) -> list[TargetOut]:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    entries = [item.model_dump(exclude_unset=True) for item in payload]
    schedule = kpi_targets_replace(kpi=kpi, actor=caller.actor, entries=entries)
    return _out(schedule, kpi)
