"""Settings → KPIs → Source → "Pull now" (admins): check a pull binding at once.

The button posts here; the pull runs while the request waits (at most the 10 s fetch
deadline), is recorded like a scheduled pull, and the source page comes back with the
outcome as a message: the value read, or the error exactly as the worker would record it.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from pulseboard.connectors.pulling import pull_now
from pulseboard.connectors.selectors import source_get
from pulseboard.core.errors import DomainError
from pulseboard.indicators.formatting import format_value
from pulseboard.indicators.selectors import kpi_get
from pulseboard.web.access import MemberRequest, admin_view


@admin_view
@require_POST
def kpi_source_pull(request: MemberRequest, kpi_id: str) -> HttpResponse:
    org = request.org
    kpi = kpi_get(org=org, kpi_id=kpi_id)
    try:
        record = pull_now(source=source_get(org=org, kpi_id=kpi.pk))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("web:kpi-source", kpi_id=kpi.pk)
    if record.error:
        messages.error(request, f"Pull failed: {record.error}")
    else:
        shown = format_value(
            record.outcome.value,
            unit_type=kpi.unit_type,
            unit_label=kpi.unit_label,
            display_format=kpi.display_format,
            locale=org.locale,
        )
        news = "recorded as the current value" if record.changed else "unchanged"
        messages.success(request, f"Pulled {shown}: {news}.")
    return redirect("web:kpi-source", kpi_id=kpi.pk)
