"""REST endpoints for a KPI's source (DESIGN §10): read, bind, rotate the webhook secret,
pull now, and the last pull attempts.

The source read takes any token of the KPI's org (read tokens: published KPIs only, and
the source's kind and health only, DESIGN §15: no settings, URL, spreadsheet, secret
hint or error text); everything else needs an admin token. Another org's KPI is a 404.
A webhook secret appears in the response of the bind that minted it and of each
rotation, never again.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from pulseboard.connectors.models import Source
from pulseboard.connectors.pulling import pull_now
from pulseboard.connectors.registry import CONNECTORS
from pulseboard.connectors.schemas import (
    PullAttemptOut,
    PullOut,
    SourceAttemptsOut,
    SourceBoundOut,
    SourceIn,
    SourceOut,
    SourceStatusOut,
)
from pulseboard.connectors.selectors import (
    attempts_recent,
    source_get,
    source_status,
    webhook_endpoint_url,
)
from pulseboard.connectors.services import source_bind, webhook_secret_rotate
from pulseboard.connectors.webhook import WebhookConnector
from pulseboard.core import clock
from pulseboard.core.api_errors import ERRORS, ErrorOut
from pulseboard.indicators.api import kpi_for
from pulseboard.orgs.api_auth import AdminTokenAuth, principal, require_admin

ADMIN = AdminTokenAuth()
WRITE_ERRORS = {**ERRORS, 409: ErrorOut}  # the source changed meanwhile / not a webhook
router = Router(tags=["Sources"])


def _label(kind: str) -> str:
    connector = CONNECTORS.get(kind)
    return connector.label if connector is not None else kind


def source_out(source: Source, *, secret: str | None = None) -> SourceBoundOut:
    return SourceBoundOut(
        kind=source.kind,
        label=_label(source.kind),
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
    source = source_get(org=caller.org, kpi_id=kpi.pk)
    if caller.is_admin:
        return SourceOut(**source_out(source).model_dump(exclude={"secret"}))
    return source_health_out(source)


def source_health_out(source: Source) -> SourceOut:
    """What a read token sees of a source: its kind and health, no setting of any kind.

    The summary is built here from the label, not taken from the connector's words, so
    no kind can put a setting in front of a read token by describing itself.
    """
    failing = source.failing
    label = _label(source.kind)
    return SourceOut(
        kind=source.kind,
        label=label,
        config=None,
        secret_hint=None,
        endpoint=None,
        interval_seconds=None,
        last_pulled_at=source.last_pulled_at,
        last_success_at=source.last_success_at,
        last_error=None,
        consecutive_failures=source.consecutive_failures,
        status=SourceStatusOut(
            summary=f"{label}: failing" if failing else label, failing=failing, details=[]
        ),
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


@router.get(
    "/kpis/{kpi_id}/source/attempts",
    auth=ADMIN,
    response={200: SourceAttemptsOut, **ERRORS},
    operation_id="kpi_source_attempts",
    url_name="kpi-source-attempts",
    summary="The last 20 pull attempts of the KPI's source, newest first (admin)",
)
def kpi_source_attempts_endpoint(request: HttpRequest, kpi_id: str) -> SourceAttemptsOut:
    caller = require_admin(request)
    kpi = kpi_for(caller, kpi_id)
    source = source_get(org=caller.org, kpi_id=kpi.pk)
    return SourceAttemptsOut(
        kind=source.kind,
        attempts=[
            PullAttemptOut.from_attempt(attempt)
            for attempt in attempts_recent(org=caller.org, kpi_id=kpi.pk)
        ],
    )


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
