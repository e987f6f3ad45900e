"""Settings → KPIs → Targets over time (admins): a KPI's schedule as a small table.

One row per scheduled target: when it comes into force (a date and time in the org's
time zone) and the parameters the KPI's shape schedules. "Add a row" and "Remove"
re-render the table from what was posted (no JavaScript needed; with htmx only the
table is swapped); "Save" hands every non-blank row to ``kpi_targets_replace``, the
same service as ``PUT /kpis/{id}/targets``, so the server validates it the same way.
A bad row comes back with its message beside the field (422) and nothing is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from pulseboard.core import clock
from pulseboard.core.errors import ValidationFailed
from pulseboard.indicators.evaluation import schedule_of, shape_params
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_get
from pulseboard.indicators.targets import MAX_ENTRIES, Schedule, scheduled_params
from pulseboard.indicators.targets_services import kpi_targets_replace
from pulseboard.web.access import MemberRequest, actor_of, admin_view, is_htmx

LOCAL_FORMAT: Final = "%Y-%m-%dT%H:%M"
LABELS: Final = {
    "threshold": "Threshold",
    "lower": "Lower",
    "upper": "Upper",
    "baseline": "Baseline",
    "warn_at": "At risk from",
    "warn_margin": "At-risk margin",
}


@dataclass
class Row:
    """One row of the table as typed: text per field, and the errors of that row."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    in_force: bool = False

    def blank(self) -> bool:
        return not any(text.strip() for text in self.values.values())


def _fields(kpi: Kpi) -> tuple[str, ...]:
    return ("effective_from", *scheduled_params(kpi.shape, kpi.baseline_mode))


def _number_text(value: float | None) -> str:
    return "" if value is None else f"{value:.15g}"


def _rows_of(kpi: Kpi, schedule: Schedule) -> list[Row]:
    zone = timezone.get_current_timezone()
    current = schedule.in_force(clock.now(), shape_params(kpi))
    rows = []
    for entry in schedule.entries:
        values = {"effective_from": entry.effective_from.astimezone(zone).strftime(LOCAL_FORMAT)}
        values.update({name: _number_text(getattr(entry, name)) for name in _fields(kpi)[1:]})
        rows.append(Row(values=values, in_force=entry == current))
    return rows


def _posted_rows(kpi: Kpi, data: Any) -> list[Row]:
    names = _fields(kpi)
    count = min(_int(data.get("rows"), 0), MAX_ENTRIES + 1)
    return [
        Row(values={name: str(data.get(f"{name}_{index}", ""))[:64] for name in names})
        for index in range(count)
    ]


def _int(text: object, default: int) -> int:
    try:
        return int(str(text))
    except ValueError:
        return default


def _entry(kpi: Kpi, row: Row) -> dict[str, object]:
    """A typed row as ``validate_schedule`` takes it; text it cannot read goes to ``row.errors``."""
    entry: dict[str, object] = {}
    text = row.values["effective_from"].strip()
    if text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            row.errors["effective_from"] = "enter a date and time, e.g. 2027-01-01 00:00"
        else:
            # The form's datetime-local field has no zone: it is the org's.
            if moment.tzinfo is None:
                moment = timezone.make_aware(moment, timezone.get_current_timezone())
            entry["effective_from"] = moment
    for name in _fields(kpi)[1:]:
        raw = row.values[name].strip()
        if not raw:
            continue
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            row.errors[name] = "enter a number, e.g. 400 or 99.5"
        else:
            entry[name] = number
    return entry


def _table(kpi: Kpi, rows: list[Row]) -> list[dict[str, Any]]:
    """The rows as the template draws them: one cell per field, its text and its error;
    errors of fields the table does not show are listed under the row."""
    names = _fields(kpi)
    table = []
    for index, row in enumerate(rows):
        cells = [
            {
                "name": name,
                "id": f"{name}_{index}",
                "label": "Effective from" if name == "effective_from" else LABELS[name],
                "value": row.values.get(name, ""),
                "error": row.errors.get(name, ""),
            }
            for name in names
        ]
        other = [f"{name}: {message}" for name, message in row.errors.items() if name not in names]
        table.append({"index": index, "cells": cells, "other": other, "in_force": row.in_force})
    return table


def _page(request: MemberRequest, kpi: Kpi, rows: list[Row], status: int = 200) -> HttpResponse:
    context = {
        "kpi": kpi,
        "table": _table(kpi, rows),
        "row_count": len(rows),
        "labels": [LABELS[name] for name in _fields(kpi)[1:]],
        "zone": timezone.get_current_timezone_name(),
        "max_rows": MAX_ENTRIES,
    }
    template = "web/kpi_targets.html#targets-form" if is_htmx(request) else "web/kpi_targets.html"
    return render(request, template, context, status=status)


@admin_view
@require_http_methods(["GET", "POST"])
def kpi_targets(request: MemberRequest, kpi_id: str) -> HttpResponse:
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    if request.method == "GET":
        return _page(request, kpi, [*_rows_of(kpi, schedule_of(kpi)), Row(values={})])
    rows = _posted_rows(kpi, request.POST)
    action = request.POST.get("action", "save")
    if action == "add":
        if len(rows) < MAX_ENTRIES:
            rows.append(Row(values={}))
        return _page(request, kpi, rows)
    if action.startswith("remove-"):
        index = _int(action.removeprefix("remove-"), -1)
        return _page(request, kpi, [row for n, row in enumerate(rows) if n != index])
    kept = [row for row in rows if not row.blank()]
    entries = [_entry(kpi, row) for row in kept]
    if any(row.errors for row in kept):
        return _page(request, kpi, kept, status=422)
    try:
        kpi_targets_replace(kpi=kpi, actor=actor_of(request), entries=entries)
    except ValidationFailed as exc:
        for key, message in exc.errors.items():
            position, _, name = key.partition(".")
            if position.isdigit() and int(position) < len(kept):
                kept[int(position)].errors[name or "effective_from"] = message
        if not any(row.errors for row in kept):
            messages.error(request, exc.message)
        return _page(request, kpi, kept or [Row(values={})], status=422)
    messages.success(request, f"Saved the targets over time of “{kpi.title}”.")
    return redirect("web:kpi-targets", kpi_id=kpi.pk)
