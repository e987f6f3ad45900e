"""Audit log (admins): every event of the org, newest first, filtered and paged.

Filters are KPI, actor (e-mail or label, partial match), action and a date
range in the org's time zone; the pager keeps the filters. A date whose first
moment (or, for the inclusive end, the next day's) cannot be a UTC date-time
(``9999-12-31`` as the end, ``0001-01-01`` east of UTC) is a form error, like
any other bad filter: the page answers 400 with the form, never a 500.
``event_rows`` turns events into rows of "field: before → after", also used by
KPI detail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from pulseboard.audit.models import AuditEvent
from pulseboard.audit.selectors import audit_list
from pulseboard.indicators.selectors import kpi_list
from pulseboard.orgs.models import Organization
from pulseboard.web.access import MemberRequest, admin_view
from pulseboard.web.forms import AuditFilterForm

PAGE_SIZE = 50
SHOWN_CHARS = 120


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    changes: list[tuple[str, str | None, str]]


def _shown(value: Any) -> str:
    text = "—" if value is None or value == "" else str(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def event_rows(events: Iterable[AuditEvent]) -> list[EventRow]:
    rows = []
    for event in events:
        before = event.before if isinstance(event.before, dict) else {}
        after = event.after if isinstance(event.after, dict) else {}
        changes: list[tuple[str, str | None, str]] = []
        for name in sorted(set(before) | set(after)):
            old, new = before.get(name), after.get(name)
            if name not in before and new in (None, "", False):
                continue
            changes.append((name, _shown(old) if name in before else None, _shown(new)))
        rows.append(EventRow(event=event, changes=changes))
    return rows


def _zone(org: Organization) -> ZoneInfo:
    try:
        return ZoneInfo(org.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


OUT_OF_RANGE = "This date is out of the range the log can search."


def _bounds(form: AuditFilterForm, zone: ZoneInfo) -> dict[str, datetime | None] | None:
    """The since/until instants of a valid form, or None after adding a form error.

    The database layer converts every instant to UTC; doing it here first turns a date
    at the edge of the calendar into a form error instead of an OverflowError later.
    """
    data = form.cleaned_data
    days = {"since": data.get("since"), "until": data.get("until")}
    bounds: dict[str, datetime | None] = {}
    for name, day in days.items():
        if day is None:
            bounds[name] = None
            continue
        try:
            # The end date is inclusive: events before the next day's first moment.
            first = day + timedelta(days=1) if name == "until" else day
            bounds[name] = _start_of(first, zone).astimezone(UTC)
        except OverflowError:
            form.add_error(name, OUT_OF_RANGE)
    return None if form.errors else bounds


@admin_view
@require_GET
def audit(request: MemberRequest) -> HttpResponse:
    org = request.org
    form = AuditFilterForm(request.GET or None, kpis=kpi_list(org=org, include_drafts=True))
    filters: dict[str, Any] = {}
    valid = not form.is_bound or form.is_valid()
    if form.is_bound and valid:
        bounds = _bounds(form, _zone(org))
        valid = bounds is not None
        if bounds is not None:
            data = form.cleaned_data
            filters = {
                "kpi_id": data.get("kpi") or None,
                "actor": (data.get("actor") or "").strip() or None,
                "action": data.get("action") or None,
                **bounds,
            }
    events: QuerySet[AuditEvent] | list[AuditEvent] = (
        audit_list(org_id=org.pk, **filters) if valid else []
    )
    paginator: Paginator[AuditEvent] = Paginator(events, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": event_rows(page.object_list),
        "query": query.urlencode(),
        "filtered": any(filters.values()),
    }
    # A filter that cannot be applied is a bad request: the form says which and why.
    return render(request, "web/audit.html", context, status=200 if valid else 400)
