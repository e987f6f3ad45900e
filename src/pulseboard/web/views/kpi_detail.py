"""KPI detail (/kpis/<id>/): history chart, history table, CSV and JSON download, audit,
KPI tree.

Members see published KPIs with their recent audit events (what changed, when, and
a neutral "who": no e-mail, IP address or source setting, see ``web.member_audit``);
a draft is a 404 for them, as is any KPI of another org. Admins see the events as
recorded, and the source's status with its last error.
The chart draws every point of the range when there are few enough, and
one average per day otherwise, so "all" stays light on a KPI fed every minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from pulseboard.audit.selectors import audit_list_for_kpi
from pulseboard.connectors.selectors import source_status
from pulseboard.core import clock
from pulseboard.goals.selectors import key_results_following
from pulseboard.history.annotations import annotation_list
from pulseboard.history.export import history_csv, history_json
from pulseboard.history.selectors import daily_averages, history_range
from pulseboard.indicators.evaluation import schedule_of, shape_params
from pulseboard.indicators.formatting import format_short_date, format_value
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_drivers, kpi_get
from pulseboard.indicators.status_changes import status_periods
from pulseboard.web.access import MemberRequest, member_view
from pulseboard.web.annotation_forms import AnnotationForm
from pulseboard.web.charts import (
    Marker,
    StatusShade,
    ValueLabels,
    chart_guides,
    history_chart,
    schedule_steps,
)
from pulseboard.web.live import KPI_DETAIL, live_page
from pulseboard.web.member_audit import member_event_rows
from pulseboard.web.tiles import STATUS_TEXT, tiles_for
from pulseboard.web.views.annotations import chart_markers, note_rows
from pulseboard.web.views.audit import event_rows
from pulseboard.web.views.goals import key_result_row

RANGES: dict[str, timedelta | None] = {
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
    "all": None,
}
DEFAULT_RANGE = "90d"
RAW_POINTS_LIMIT = 1500
TABLE_PAGE_SIZE = 25
AUDIT_SHOWN = 15
# Notes of the range on screen, newest first, in the list and as chart markers.
ANNOTATIONS_SHOWN = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _visible_kpi(request: MemberRequest, kpi_id: str) -> Kpi:
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    if not kpi.published and not request.membership.is_admin:
        raise Http404("KPI not found")
    return kpi


def _range(request: HttpRequest) -> tuple[str, datetime | None]:
    name = request.GET.get("range", DEFAULT_RANGE)
    if name not in RANGES:
        name = DEFAULT_RANGE
    span = RANGES[name]
    return name, (clock.now() - span if span else None)


def _chart(
    kpi: Kpi, since: datetime | None, labels: ValueLabels, markers: Sequence[Marker] = ()
) -> str:
    rows = history_range(org_id=kpi.org_id, kpi_id=kpi.pk, since=since)
    points: list[Any]
    if rows.count() <= RAW_POINTS_LIMIT:
        points = list(rows.values_list("observed_at", "value"))
    else:
        days = daily_averages(org_id=kpi.org_id, kpi_id=kpi.pk, since=since or EPOCH)
        points = [(day, average) for day, average, _ in days]
    lines, bands = chart_guides(shape_params(kpi), label=labels.exact)
    # Targets over time (DESIGN §13): the guides as step lines through their schedule.
    schedule = schedule_of(kpi)
    steps = schedule_steps(shape_params(kpi), schedule.entries, label=labels.exact)
    if schedule:
        lines, bands = [], []
    return history_chart(
        points,
        title=f"History of {kpi.title}",
        tick_label=labels.tick,
        lines=lines,
        bands=bands,
        zone=timezone.get_current_timezone(),  # the org's (orgs/timezone_middleware.py)
        schedule=steps if schedule else (),
        markers=markers,
        status_periods=_status_shades(kpi, since),
    )


def _status_shades(kpi: Kpi, since: datetime | None) -> list[StatusShade]:
    """The KPI's status periods in the chart's range, in words in the org's language and zone
    (DESIGN §12): "Red from Dec 1 until Dec 3", "Green since Dec 3"."""
    zone = timezone.get_current_timezone()  # the org's (orgs/timezone_middleware.py)
    locale = kpi.org.locale
    today = clock.now().astimezone(zone).date()

    def day(moment: datetime) -> str:
        return format_short_date(moment.astimezone(zone).date(), locale=locale, today=today)

    shades = []
    for period in status_periods(org_id=kpi.org_id, kpi_id=kpi.pk, since=since):
        name = STATUS_TEXT[period.status.value][0]
        label = (
            f"{name} since {day(period.start)}"
            if period.end is None
            else f"{name} from {day(period.start)} until {day(period.end)}"
        )
        shades.append(
            StatusShade(status=period.status, start=period.start, end=period.end, label=label)
        )
    return shades


@member_view
@require_GET
@live_page(KPI_DETAIL)
def kpi_detail(request: MemberRequest, kpi_id: str) -> HttpResponse:
    org = request.org
    is_admin = request.membership.is_admin
    kpi = _visible_kpi(request, kpi_id)
    range_name, since = _range(request)
    now = clock.now()
    labels = ValueLabels(
        unit_type=kpi.unit_type,
        unit_label=kpi.unit_label,
        display_format=kpi.display_format,
        locale=org.locale,
    )
    rows = history_range(org_id=org.pk, kpi_id=kpi.pk, since=since).order_by("-observed_at", "-id")
    page = Paginator(rows, TABLE_PAGE_SIZE).get_page(request.GET.get("page"))
    units = {
        "unit_type": kpi.unit_type,
        "unit_label": kpi.unit_label,
        "display_format": kpi.display_format,
        "locale": org.locale,
    }
    history = [(row, format_value(row.value, **units)) for row in page.object_list]
    drivers = [d for d in kpi_drivers(org=org, kpi=kpi) if d.published or is_admin]
    parent = kpi.parent if kpi.parent and (kpi.parent.published or is_admin) else None
    source = getattr(kpi, "source", None)
    events = audit_list_for_kpi(org_id=org.pk, kpi_id=kpi.pk, limit=AUDIT_SHOWN)
    annotations = list(annotation_list(org=org, kpi=kpi, since=since)[:ANNOTATIONS_SHOWN])
    context: dict[str, Any] = {
        "tile": tiles_for(org=org, kpis=[kpi], now=now, sparklines=False)[0],
        "kpi": kpi,
        # Built and escaped by charts.history_chart.
        "chart": mark_safe(_chart(kpi, since, labels, chart_markers(annotations))),  # noqa: S308
        "ranges": list(RANGES),
        "range": range_name,
        "annotations": note_rows(annotations, user_id=request.user.pk, is_admin=is_admin),
        "note_form": AnnotationForm(),
        "page": page,
        "history": history,
        "events": event_rows(events)
        if is_admin
        else member_event_rows(events, viewer_id=request.user.pk),
        "drivers": drivers,
        "parent": parent,
        "source": source if is_admin else None,
        "key_results": [
            key_result_row(card, is_admin)
            for card in key_results_following(org=org, kpi=kpi, now=now)
        ],
    }
    if is_admin and source is not None:
        status = source_status(source, now=now)
        context["source_status"] = status
        # The last error gets its own block below, with its time and in full.
        context["source_details"] = [(k, v) for k, v in status.details if k != "Last error"]
    # A TemplateResponse, so the live poll (web/live.py) can render only the board partial.
    return TemplateResponse(request, "web/kpi_detail.html", context)


EXPORTS = {
    # The API's export (history/export.py), streamed the same way: any size, constant memory.
    "csv": (history_csv, "text/csv; charset=utf-8"),
    "json": (history_json, "application/json"),
}


def _history_download(request: MemberRequest, kpi_id: str, extension: str) -> HttpResponseBase:
    kpi = _visible_kpi(request, kpi_id)
    range_name, since = _range(request)
    rows, content_type = EXPORTS[extension]
    response = StreamingHttpResponse(
        rows(org_id=kpi.org_id, kpi_id=kpi.pk, since=since), content_type=content_type
    )
    name = slugify(kpi.title)[:60] or "kpi"
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-history-{range_name}.{extension}"'
    )
    return response


@member_view
@require_GET
def kpi_history_csv(request: MemberRequest, kpi_id: str) -> HttpResponseBase:
    return _history_download(request, kpi_id, "csv")


@member_view
@require_GET
def kpi_history_json(request: MemberRequest, kpi_id: str) -> HttpResponseBase:
    return _history_download(request, kpi_id, "json")
