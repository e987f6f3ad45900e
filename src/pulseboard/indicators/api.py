"""REST endpoints for KPIs (DESIGN §10): list, create, read, edit, delete, parse-title.

The value write (``PUT /kpis/{id}/value``) lives with history (``history/api.py``).
``GET /kpis/{id}/status-changes`` reads a KPI's status transitions back (DESIGN §12).

Every handler scopes to the calling token's org, so another org's KPI is a 404
like a KPI that does not exist. Read tokens see published KPIs only and cannot
write (403). ``GET /kpis`` narrows to one owner (``?owner=<user id>``) or one team
(``?team=<id or slug>``; an unknown team is a 404). Reads return ``KpiOut`` built by
``kpi_cards``, the same code the web uses, so formatted values, target phrases,
staleness and change agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field, model_validator

from pulseboard.core import clock
from pulseboard.core.api_errors import ERRORS, ErrorOut
from pulseboard.core.api_input import ApiDatetime, is_object_id
from pulseboard.core.errors import Forbidden, NotFound
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.quickcreate import parse_title, suggested_fields
from pulseboard.indicators.schemas import (
    KpiIn,
    KpiOut,
    KpiPatch,
    ParseTitleIn,
    ParseTitleOut,
    SuggestedFieldsOut,
)
from pulseboard.indicators.selectors import kpi_cards, kpi_get, kpi_list
from pulseboard.indicators.services import kpi_create, kpi_delete, kpi_spec, kpi_update
from pulseboard.indicators.spec import MAX_ID, spec_patched
from pulseboard.indicators.status_changes import status_changes_newest
from pulseboard.orgs.api_auth import AdminTokenAuth, ApiPrincipal, principal, require_admin
from pulseboard.orgs.teams import MAX_TEAM_SLUG, team_find

ADMIN = AdminTokenAuth()
router = Router(tags=["KPIs"])


def kpi_for(caller: ApiPrincipal, kpi_id: str) -> Kpi:
    """The caller's KPI, or NotFound; read tokens see published KPIs only."""
    if not is_object_id(kpi_id):
        raise NotFound("KPI not found")
    kpi = kpi_get(org=caller.org, kpi_id=kpi_id)
    if not kpi.published and not caller.is_admin:
        raise NotFound("KPI not found")
    return kpi


def kpi_out(caller: ApiPrincipal, kpi: Kpi) -> KpiOut:
    fresh = kpi_get(org=caller.org, kpi_id=kpi.pk)
    (card,) = kpi_cards(org=caller.org, kpis=[fresh], now=clock.now(), sparklines=False)
    return KpiOut.from_card(card)


class KpiListQuery(Schema):
    include: Literal["drafts"] | None = None
    owner: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="only the KPIs this member (user id) owns"
    )
    team: str | None = Field(
        default=None, max_length=MAX_TEAM_SLUG, description="only this team's KPIs (id or slug)"
    )


@router.get(
    "/kpis",
    response={200: list[KpiOut], **ERRORS},
    operation_id="kpi_list",
    url_name="kpi-list",
    summary="Published KPIs in Home order (admin tokens: ?include=drafts adds drafts); "
    "?owner=<user id> and ?team=<team id or slug> narrow the list",
)
def kpi_list_endpoint(request: HttpRequest, filters: Query[KpiListQuery]) -> list[KpiOut]:
    caller = principal(request)
    drafts = filters.include == "drafts"
    if drafts and not caller.is_admin:
        raise Forbidden("include=drafts needs a token with admin scope")
    # An unknown team (or another org's) is a 404: a mistyped slug must not read as "no KPIs".
    team = team_find(org=caller.org, key=filters.team) if filters.team is not None else None
    kpis = list(kpi_list(org=caller.org, include_drafts=drafts, owner_id=filters.owner, team=team))
    cards = kpi_cards(org=caller.org, kpis=kpis, now=clock.now(), sparklines=False)
    return [KpiOut.from_card(card) for card in cards]


@router.post(
    "/kpis",
    auth=ADMIN,
    response={201: KpiOut, **ERRORS},
    operation_id="kpi_create",
    url_name="kpi-list",
    summary="Create a KPI (admin)",
)
def kpi_create_endpoint(request: HttpRequest, payload: KpiIn) -> Status[KpiOut]:
    caller = require_admin(request)
    kpi = kpi_create(org=caller.org, actor=caller.actor, spec=payload.spec())
    return Status(201, kpi_out(caller, kpi))


@router.get(
    "/kpis/{kpi_id}",
    response={200: KpiOut, **ERRORS},
    operation_id="kpi_get",
    url_name="kpi-detail",
    summary="One KPI",
)
def kpi_get_endpoint(request: HttpRequest, kpi_id: str) -> KpiOut:
    caller = principal(request)
    return kpi_out(caller, kpi_for(caller, kpi_id))


@router.patch(
    "/kpis/{kpi_id}",
    auth=ADMIN,
    response={200: KpiOut, **ERRORS},
    operation_id="kpi_patch",
    url_name="kpi-detail",
    summary="Edit a KPI (admin); send only the fields to change",
)
def kpi_patch_endpoint(request: HttpRequest, kpi_id: str, payload: KpiPatch) -> KpiOut:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    spec = spec_patched(kpi_spec(kpi), payload.changes())
    # One service, one transaction: fields and published state change together or not at all.
    kpi = kpi_update(kpi=kpi, actor=caller.actor, spec=spec)
    return kpi_out(caller, kpi)


@router.delete(
    "/kpis/{kpi_id}",
    auth=ADMIN,
    # 409: key results follow the KPI (the PROTECT foreign key; api.py names them).
    response={204: None, **ERRORS, 409: ErrorOut},
    operation_id="kpi_delete",
    url_name="kpi-detail",
    summary="Delete a KPI and its history (admin)",
)
def kpi_delete_endpoint(request: HttpRequest, kpi_id: str) -> Status[None]:
    caller = require_admin(request)
    kpi_delete(kpi=kpi_for(caller, kpi_id), actor=caller.actor)
    return Status(204, None)


@router.post(
    "/parse-title",
    response={200: ParseTitleOut, **ERRORS},
    operation_id="parse_title",
    url_name="parse-title",
    summary="Detect shape, target and unit in a KPI title (quick-create)",
)
def parse_title_endpoint(request: HttpRequest, payload: ParseTitleIn) -> ParseTitleOut:
    principal(request)
    detected = parse_title(payload.title)
    if detected is None:
        return ParseTitleOut()
    fields = SuggestedFieldsOut(**suggested_fields(detected))
    return ParseTitleOut(**detected.to_dict(), fields=fields)  # type: ignore[arg-type]


STATUS_CHANGES_LIMIT = 500


class StatusChangeOut(Schema):
    from_status: str = Field(alias="from", description="the status before the change")
    to_status: str = Field(alias="to", description="the status from ``at`` on")
    at: datetime
    cause: Literal["value", "time", "config"] = Field(
        description="a new value, time alone (a rolling baseline, staleness) or a definition "
        "or scheduled-target change"
    )


class StatusChangeQuery(Schema):
    since: ApiDatetime | None = Field(default=None, description="changes at or after")
    until: ApiDatetime | None = Field(default=None, description="changes before")
    limit: int = Field(default=100, ge=1, le=STATUS_CHANGES_LIMIT, description="at most this many")

    @model_validator(mode="after")
    def _ordered(self) -> StatusChangeQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


@router.get(
    "/kpis/{kpi_id}/status-changes",
    response={200: list[StatusChangeOut], **ERRORS},
    by_alias=True,
    operation_id="kpi_status_changes",
    url_name="kpi-status-changes",
    summary="A KPI's status changes (from, to, at, cause), newest first (?since=&until=&limit=)",
)
def kpi_status_changes_endpoint(
    request: HttpRequest, kpi_id: str, query: Query[StatusChangeQuery]
) -> list[dict[str, object]]:
    caller = principal(request)
    kpi = kpi_for(caller, kpi_id)
    rows = status_changes_newest(
        org_id=caller.org.pk, kpi_id=kpi.pk, since=query.since, until=query.until, limit=query.limit
    )
    # Dicts: ninja validates the answer against StatusChangeOut by its aliases ("from", "to").
    return [
        {"from": row.from_status, "to": row.to_status, "at": row.at, "cause": row.cause}
        for row in rows
    ]
