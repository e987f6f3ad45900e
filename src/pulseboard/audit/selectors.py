"""Reads of the audit log, always for one org, newest first."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from pulseboard.audit.models import AuditEvent


def audit_list(
    *,
    org_id: int,
    kpi_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(org_id=org_id)
    if kpi_id:
        events = events.filter(target_type="kpi", target_id=kpi_id)
    if actor:
        events = events.filter(actor_label__icontains=actor) | events.filter(actor_id=actor)
    if action:
        events = events.filter(action=action)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events.order_by("-created_at", "-id")


def audit_list_for_kpi(*, org_id: int, kpi_id: str, limit: int = 20) -> list[AuditEvent]:
    return list(audit_list(org_id=org_id, kpi_id=kpi_id)[:limit])
