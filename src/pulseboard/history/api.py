"""REST endpoints for a KPI's values: the manual value write, and its history as JSON or CSV.

The response is a ``StreamingHttpResponse`` fed by ``history/export.py``'s
generators over a server-side cursor, so a million-row export never sits in
memory. The KPI is looked up first (org-scoped, drafts hidden from read tokens),
so an unknown or foreign KPI is a plain 404 before any streaming starts.
"""

from __future__ import annotations

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router

from pulseboard.core.api_errors import ERRORS
from pulseboard.history.export import history_csv, history_json
from pulseboard.history.models import ValueSource
from pulseboard.history.schemas import HistoryOut, HistoryQuery, ValueIn, ValueOut
from pulseboard.history.services import value_record
from pulseboard.indicators.api import ADMIN, kpi_for, kpi_out
from pulseboard.orgs.api_auth import principal, require_admin

router = Router(tags=["History"])

_CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "The rows, oldest first: JSON by default, CSV with format=csv",
            "content": {
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "header observed_at,value,status,source,recorded_at",
                    }
                }
            },
        }
    }
}


@router.get(
    "/kpis/{kpi_id}/history",
    response={200: HistoryOut, **ERRORS},
    operation_id="kpi_history",
    url_name="kpi-history",
    summary="History of a KPI, oldest first (?since=&until=&format=json|csv)",
    openapi_extra=_CSV_RESPONSE,
)
def kpi_history_endpoint(
    request: HttpRequest, kpi_id: str, query: Query[HistoryQuery]
) -> StreamingHttpResponse:
    caller = principal(request)
    kpi = kpi_for(caller, kpi_id)
    org_id, since, until = caller.org.pk, query.since, query.until
    if query.format == "csv":
        rows = history_csv(org_id=org_id, kpi_id=kpi.pk, since=since, until=until)
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="kpi-{kpi.pk}-history.csv"'
        return response
    return StreamingHttpResponse(
        history_json(org_id=org_id, kpi_id=kpi.pk, since=since, until=until),
        content_type="application/json",
    )


@router.put(
    "/kpis/{kpi_id}/value",
    auth=ADMIN,
    response={200: ValueOut, **ERRORS},
    operation_id="kpi_value",
    url_name="kpi-value",
    summary="Record a value (admin); a write older than the current value goes to history only",
)
def kpi_value_endpoint(request: HttpRequest, kpi_id: str, payload: ValueIn) -> ValueOut:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    write = value_record(
        kpi=kpi,
        value=payload.value,
        observed_at=payload.observed_at,
        source=ValueSource.API,
        actor=caller.actor,
    )
    assert write.history is not None  # an API write is always recorded
    return ValueOut(
        applied=write.applied,
        value=write.history.value,
        observed_at=write.history.observed_at,
        status=write.history.status,  # type: ignore[arg-type]
        kpi=kpi_out(caller, write.kpi),
    )
