"""Reads of sources and webhook deliveries: per org, except the inbound endpoint's lookup.

``webhook_target_get`` is the one read keyed by the KPI id alone: the webhook endpoint
has no session or token to name an org, so it takes the org from the row it finds and
the signature (checked next) proves the caller holds that KPI's secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from pulseboard.connectors.base import SourceState, SourceStatus
from pulseboard.connectors.models import PullAttempt, Source, WebhookDelivery
from pulseboard.connectors.registry import CONNECTORS
from pulseboard.connectors.webhook import WebhookConnector
from pulseboard.core.errors import NotFound
from pulseboard.orgs.models import Organization

DELIVERIES_SHOWN: Final = 20
# The pull attempts admins are shown (pull_services keeps at least this many per source).
ATTEMPTS_SHOWN: Final = 20


@dataclass(frozen=True)
class WebhookTarget:
    """What the webhook endpoint loads for a delivery: no more than it needs."""

    source_id: str
    kpi_id: str
    org_id: int
    secret_encrypted: str


def source_get(*, org: Organization, kpi_id: str) -> Source:
    """The source of ``org``'s KPI ``kpi_id``, or NotFound."""
    source = Source.objects.filter(org=org, kpi_id=kpi_id).select_related("kpi").first()
    if source is None:
        raise NotFound("KPI not found")
    return source


def source_state(source: Source) -> SourceState:
    return SourceState(
        kind=source.kind,
        config=dict(source.config or {}),
        secret_hint=source.secret_hint,
        interval_seconds=source.interval_seconds,
        next_pull_at=source.next_pull_at,
        last_pulled_at=source.last_pulled_at,
        last_success_at=source.last_success_at,
        last_error=source.last_error,
        last_error_at=source.last_error_at,
        consecutive_failures=source.consecutive_failures,
    )


def source_status(source: Source, *, now: datetime) -> SourceStatus:
    """The connector's own words for how the source is doing."""
    connector = CONNECTORS.get(source.kind)
    if connector is None:
        return SourceStatus(summary=f"{source.kind}: this server has no such connector")
    return connector.describe_status(source_state(source), now=now)


def webhook_endpoint_url(kpi_id: str) -> str:
    """The absolute URL senders post to (``PULSEBOARD_BASE_URL`` + the hook path)."""
    base = str(settings.PULSEBOARD["BASE_URL"]).rstrip("/")
    return base + reverse("hooks-kpi", kwargs={"kpi_id": kpi_id})


def webhook_target_get(*, kpi_id: str) -> WebhookTarget | None:
    """The webhook source of KPI ``kpi_id`` with its encrypted secret, in one query.

    None when no such KPI exists or its source is not a webhook with a secret; the
    caller answers both like a bad signature.
    """
    row = (
        Source.objects.filter(kpi_id=kpi_id, kind=WebhookConnector.kind)
        .exclude(secret_encrypted="")
        .values_list("pk", "org_id", "secret_encrypted")
        .first()
    )
    if row is None:
        return None
    source_id, org_id, secret_encrypted = row
    return WebhookTarget(
        source_id=source_id, kpi_id=kpi_id, org_id=org_id, secret_encrypted=secret_encrypted
    )


def attempts_recent(
    *, org: Organization, kpi_id: str, limit: int = ATTEMPTS_SHOWN
) -> QuerySet[PullAttempt]:
    """The latest pull attempts of one KPI's source, newest first (admins only)."""
    return PullAttempt.objects.filter(org=org, source__kpi_id=kpi_id).order_by(
        "-started_at", "-pk"
    )[:limit]


def deliveries_recent(
    *, org: Organization, kpi_id: str, limit: int = DELIVERIES_SHOWN
) -> QuerySet[WebhookDelivery]:
    """The latest accepted deliveries of one KPI, newest first."""
    return WebhookDelivery.objects.filter(org=org, kpi_id=kpi_id).order_by("-received_at", "-pk")[
        :limit
    ]
