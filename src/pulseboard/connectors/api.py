"""REST endpoints for a KPI's source (DESIGN §10): read, bind, rotate the webhook secret.

Reads take any token of the KPI's org (read tokens: published KPIs only); writes need
an admin token. Another org's KPI is a 404. A webhook secret appears in the response
of the bind that minted it and of each rotation, never again.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from pulseboard.connectors.models import Source
from pulseboard.connectors.pulling import pull_now
from pulseboard.connectors.schemas import (
    PullOut,
    SourceBoundOut,
    SourceIn,
    SourceOut,
    SourceStatusOut,
)
from pulseboard.connectors.selectors import source_get, source_status, webhook_endpoint_url
from pulseboard.connectors.services import source_bind, webhook_secret_rotate
from pulseboard.connectors.webhook import WebhookConnector
from pulseboard.core import clock
from pulseboard.core.api_errors import ERRORS, ErrorOut
from pulseboard.indicators.api import kpi_for
from pulseboard.orgs.api_auth import AdminTokenAuth, principal, require_admin

ADMIN = AdminTokenAuth()
WRITE_ERRORS = {**ERRORS, 409: ErrorOut}  # the source changed meanwhile / not a webhook
router = Router(tags=["Sources"])


def source_out(source: Source, *, secret: str | None = None) -> SourceBoundOut:
    return SourceBoundOut(
        kind=source.kind,
        config=dict(source.config or {}),
        secret_hint=source.secret_hint or None,
        endpoint=(
            webhook_endpoint_url(source.kpi_id) if source.kind == WebhookConnector.kind else None
        ),
        interval_seconds=source.interval_seconds if source.is_pull else None,
        last_pulled_at=source.last_pulled_at,
        last_success_at=source.last_success_at,
        last_error=source.last_error or None,
        consecutive_failures=source.consecutive_failures,
        status=SourceStatusOut.from_status(source_status(source, now=clock.now())),
        secret=secret,
    )


@router.get(
    "/kpis/{kpi_id}/source",
    response={200: SourceOut, **ERRORS},
    operation_id="kpi_source_get",
    url_name="kpi-source",
    summary="The KPI's source: kind, settings (no secrets), status",
)
def kpi_source_get_endpoint(request: HttpRequest, kpi_id: str) -> SourceOut:
    caller = principal(request)
    kpi = kpi_for(caller, kpi_id)
    return SourceOut(
        **source_out(source_get(org=caller.org, kpi_id=kpi.pk)).model_dump(exclude={"secret"})
    )


@router.put(
    "/kpis/{kpi_id}/source",
    auth=ADMIN,
    response={200: SourceBoundOut, **WRITE_ERRORS},
    operation_id="kpi_source_bind",
    url_name="kpi-source",
    summary="Bind the KPI to a source (admin); a webhook's secret is in this response only",
)
def kpi_source_bind_endpoint(
    request: HttpRequest, kpi_id: str, payload: SourceIn
) -> SourceBoundOut:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    bound = source_bind(kpi=kpi, actor=caller.actor, kind=payload.kind, config=payload.config)
    return source_out(bound.source, secret=bound.secret)


@router.post(
    "/kpis/{kpi_id}/source/rotate-secret",
    auth=ADMIN,
    response={200: SourceBoundOut, **WRITE_ERRORS},
    operation_id="kpi_source_rotate_secret",
    url_name="kpi-source-rotate",
    summary="Webhook only (admin): a new secret, shown in this response only; the old one stops",
)
def kpi_source_rotate_endpoint(request: HttpRequest, kpi_id: str) -> SourceBoundOut:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    rotation = webhook_secret_rotate(kpi=kpi, actor=caller.actor)
    return source_out(rotation.source, secret=rotation.secret)


@router.post(
    "/kpis/{kpi_id}/source/pull",
    auth=ADMIN,
    response={200: PullOut, **WRITE_ERRORS},
    operation_id="kpi_source_pull",
    url_name="kpi-source-pull",
    summary="Pull now (admin, pull kinds): waits for the pull and returns its outcome",
)
def kpi_source_pull_endpoint(request: HttpRequest, kpi_id: str) -> PullOut:
    # A failed pull is still a completed request: 200 with ok=false and the error, recorded
    # like a scheduled pull's. 409 when the source is not pulled or a worker holds it.
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    return PullOut.from_record(pull_now(source=source_get(org=caller.org, kpi_id=kpi.pk)))
