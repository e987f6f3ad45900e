"""REST endpoints for a KPI's values: the manual value write, and its history as JSON or CSV.

The response is a ``StreamingHttpResponse`` fed by ``history/export.py``'s
generators over a server-side cursor, so a million-row export never sits in
memory. The KPI is looked up first (org-scoped, drafts hidden from read tokens),
so an unknown or foreign KPI is a plain 404 before any streaming starts.

Writes besides the single value (DESIGN §14): ``POST /values`` records up to 1,000
values all or nothing, and ``POST /kpis/{id}/history/import`` reads a CSV body as it
arrives (up to 10 MiB, past the 256 KiB limit of JSON bodies) and imports it whole or
not at all.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Body, Query, Router

from pulseboard.core.api_errors import ERRORS, ErrorOut
from pulseboard.core.errors import DomainError, ValidationFailed
from pulseboard.history.export import history_csv, history_json
from pulseboard.history.importing import MAX_FILE_BYTES, ParsedImport
from pulseboard.history.models import ValueSource
from pulseboard.history.schemas import (
    BatchItemIn,
    BatchItemOut,
    BatchOut,
    HistoryOut,
    HistoryQuery,
    ImportOut,
    ValueIn,
    ValueOut,
)
from pulseboard.history.services import (
    BatchItem,
    history_import,
    history_import_parse,
    value_record,
    values_record_batch,
)
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


# --- history import (DESIGN §14) -----------------------------------------------------------

_READ_CHUNK = 64 * 1024
_NOT_CSV = ("multipart/", "application/x-www-form-urlencoded", "application/json")


class BodyTooLarge(DomainError):
    status = 413


class NotCsv(DomainError):
    status = 415


def _csv_chunks(request: HttpRequest, length: int) -> Iterator[bytes]:
    """The request body in chunks, read as the parser asks: never all in memory at once.

    ``request.read`` rather than ``request.body``: the body of this route alone may be
    larger than DATA_UPLOAD_MAX_MEMORY_SIZE (256 KiB), up to ``MAX_FILE_BYTES``.
    """
    received = 0
    while received < length:
        chunk = request.read(min(_READ_CHUNK, length - received))
        if not chunk:
            return
        received += len(chunk)
        yield chunk


def _import_length(request: HttpRequest) -> int:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_FILE_BYTES:
        raise BodyTooLarge(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
            "split it into several imports"
        )
    if length <= 0:
        raise ValidationFailed(
            "the request body is empty: send the CSV file as the body "
            "(curl --data-binary @history.csv -H 'Content-Type: text/csv')",
            errors={"body": "empty"},
        )
    content_type = request.content_type or ""
    if content_type.startswith(_NOT_CSV):
        raise NotCsv(
            f"send the CSV file itself as the body with Content-Type: text/csv, not {content_type} "
            "(curl --data-binary @history.csv -H 'Content-Type: text/csv')"
        )
    return length


def import_errors(parsed: ParsedImport) -> ValidationFailed:
    """A refused file as the API's 422: one entry per listed error, keyed by its line."""
    errors: dict[str, str] = {}
    for error in parsed.errors:
        key = f"line {error.line}"
        errors[key] = f"{errors[key]}; {error.message}" if key in errors else error.message
    return ValidationFailed(parsed.summary(), errors=errors)


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string", "description": "header observed_at,value, then rows"}
            }
        },
    }
}


@router.post(
    "/kpis/{kpi_id}/history/import",
    auth=ADMIN,
    response={200: ImportOut, **ERRORS, 415: ErrorOut},
    operation_id="kpi_history_import",
    url_name="kpi-history-import",
    summary="Import past values from CSV (admin): all rows checked first, any bad row refuses all",
    openapi_extra=_IMPORT_BODY,
)
def kpi_history_import_endpoint(request: HttpRequest, kpi_id: str) -> ImportOut:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    parsed = history_import_parse(_csv_chunks(request, _import_length(request)))
    if not parsed.ok:
        raise import_errors(parsed)
    outcome = history_import(
        kpi=kpi, points=parsed.points, actor=caller.actor, source=ValueSource.API
    )
    assert outcome.first is not None and outcome.last is not None  # parsed.ok: rows exist
    return ImportOut(
        rows=parsed.rows,
        imported=outcome.imported,
        skipped=outcome.skipped,
        first_observed_at=outcome.first,
        last_observed_at=outcome.last,
        applied=outcome.applied,
        kpi=kpi_out(caller, outcome.kpi),
    )


# --- batch values (DESIGN §14) -------------------------------------------------------------


@router.post(
    "/values",
    auth=ADMIN,
    response={200: BatchOut, **ERRORS},
    operation_id="values_batch",
    url_name="values-batch",
    summary="Record up to 1,000 values at once (admin): all or nothing, errors by index",
)
def values_batch_endpoint(request: HttpRequest, payload: Body[list[BatchItemIn]]) -> BatchOut:
    caller = require_admin(request)
    writes = values_record_batch(
        org_id=caller.org.pk,
        items=[
            BatchItem(kpi_id=item.kpi_id, value=item.value, observed_at=item.observed_at)
            for item in payload
        ],
        actor=caller.actor,
        source=ValueSource.API,
    )
    items = []
    for write in writes:
        assert write.history is not None  # an API write is always recorded
        items.append(
            BatchItemOut(
                kpi_id=write.kpi.pk,
                applied=write.applied,
                value=write.history.value,
                observed_at=write.history.observed_at,
                status=write.history.status,  # type: ignore[arg-type]
            )
        )
    return BatchOut(recorded=len(items), items=items)
