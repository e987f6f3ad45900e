"""REST endpoint for the audit log (admin tokens): filtered, newest first, cursor-paged.

Paging is by cursor, not page number: ``?limit=`` events per page and the
``next_cursor`` of one page as ``?cursor=`` for the next. The cursor names the
last event seen (its time and id), so events recorded while a client pages
never shift or repeat entries, and a deep page costs no OFFSET scan.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from django.db.models import Q
from django.http import HttpRequest
from ninja import Query, Router

from pulseboard.audit.models import AuditEvent
from pulseboard.audit.schemas import AuditEventOut, AuditPageOut, AuditQuery
from pulseboard.audit.selectors import audit_list
from pulseboard.core.api_errors import ERRORS
from pulseboard.core.errors import ValidationFailed
from pulseboard.orgs.api_auth import AdminTokenAuth, require_admin

ADMIN = AdminTokenAuth()
router = Router(tags=["Audit"])


def cursor_encode(event: AuditEvent) -> str:
    raw = f"{event.created_at.isoformat()}|{event.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    """The (created_at, id) a cursor names; 422 for anything this API did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, event_id = raw.partition("|")
        created_at = datetime.fromisoformat(when)
        number = int(event_id)
        if created_at.tzinfo is None or not 0 < number < 2**63:
            raise ValueError("not a cursor")
        return created_at.astimezone(UTC), number
    except (ValueError, OverflowError, binascii.Error) as exc:
        message = "not a cursor from this API; pass next_cursor of the previous page"
        raise ValidationFailed(f"cursor: {message}", errors={"cursor": message}) from exc


def _event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.pk,
        created_at=event.created_at,
        actor_kind=event.actor_kind,  # type: ignore[arg-type]
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        target_label=event.target_label,
        before=event.before,
        after=event.after,
        ip=event.ip,
    )


@router.get(
    "/audit",
    auth=ADMIN,
    response={200: AuditPageOut, **ERRORS},
    operation_id="audit_list",
    url_name="audit-list",
    summary="Audit events, newest first (admin); filter by kpi, actor, action, since, until",
)
def audit_list_endpoint(request: HttpRequest, query: Query[AuditQuery]) -> AuditPageOut:
    caller = require_admin(request)
    events = audit_list(
        org_id=caller.org.pk,
        kpi_id=query.kpi,
        actor=query.actor,
        action=query.action,
        since=query.since,
        until=query.until,
    )
    if query.cursor:
        created_at, event_id = cursor_decode(query.cursor)
        events = events.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=event_id)
        )
    page = list(events[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    return AuditPageOut(
        items=[_event_out(event) for event in page],
        next_cursor=cursor_encode(page[-1]) if more else None,
    )
