"""Settings → KPIs (admins): the list with drafts, create/edit form, publish, reorder, delete.

The form has two live helpers, both htmx fragments of ``kpi_form.html``: the
quick-create suggestion (``parse_title`` on the title as it is typed, with an
Apply button that ``pulseboard.js`` uses to fill the fields ``suggested_fields``
gives, the same ones ``POST /parse-title`` answers) and the preview of the
formatted value and target phrase for the form's current values. Create and edit
hand the form's ``KpiSpec`` to one service call each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.db.models import ProtectedError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from pulseboard.core import clock
from pulseboard.core.errors import ValidationFailed
from pulseboard.goals.selectors import key_result_list_for_kpi
from pulseboard.indicators import services as kpi_services
from pulseboard.indicators.formatting import DisplayFormat, UnitType, format_value, target_phrase
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.quickcreate import parse_title, suggested_fields
from pulseboard.indicators.selectors import kpi_drivers, kpi_get, kpi_list
from pulseboard.indicators.shapes import PARAM_NAMES, BaselineMode, Shape, ShapeParams
from pulseboard.indicators.spec import DEFAULT_COMPARE_PERIOD
from pulseboard.indicators.status import evaluate
from pulseboard.web.access import MemberRequest, actor_of, admin_view
from pulseboard.web.forms import (
    FORMAT_LABELS,
    UNIT_LABELS,
    KpiForm,
    add_errors,
    kpi_initial,
    preview_number,
)
from pulseboard.web.tiles import STATUS_TEXT, tiles_for

HOME_NOTE_ABOVE = 8
MAX_TITLE_INPUT = 200
NEW_KPI_INITIAL = {
    "shape": Shape.STAY_ABOVE.value,
    "unit_type": UnitType.NUMBER.value,
    "display_format": DisplayFormat.DECIMAL_1.value,
    "compare_period": DEFAULT_COMPARE_PERIOD,
    "baseline_mode": BaselineMode.FIXED.value,
    "published": True,
}


@admin_view
@require_http_methods(["GET"])
def kpi_settings(request: MemberRequest) -> HttpResponse:
    org = request.org
    kpis = list(kpi_list(org=org, include_drafts=True))
    tiles = tiles_for(org=org, kpis=kpis, now=clock.now(), sparklines=False, notes=False)
    context = {
        "tiles": tiles,
        "published_count": sum(1 for k in kpis if k.published),
        "moved": request.GET.get("moved", ""),
        "moved_dir": request.GET.get("dir", ""),
    }
    return render(request, "web/kpi_list.html", context)


def _form_page(
    request: MemberRequest, form: KpiForm, kpi: Kpi | None, status: int = 200
) -> HttpResponse:
    values: Mapping[str, Any] = form.data if form.is_bound else form.initial
    shape_now = str(values.get("shape") or "")
    mode_now = str(values.get("baseline_mode") or BaselineMode.FIXED)
    title = str(values.get("title") or "")
    context: dict[str, Any] = {
        "form": form,
        "kpi": kpi,
        "shape_now": shape_now,
        "mode_now": mode_now,
        "param_rows": form.param_rows(shape_now, mode_now),
        "preview": _preview(values, request, kpi),
        "preview_sample": values.get("preview_value", "")
        if form.is_bound
        else _sample_text(kpi, values),
        **_suggestion(title if not kpi else ""),
    }
    return render(request, "web/kpi_form.html", context, status=status)


def _sample_text(kpi: Kpi | None, values: Mapping[str, Any]) -> str:
    if kpi is not None and kpi.current_value is not None:
        return f"{kpi.current_value:.15g}"
    for name in ("threshold", "lower", "baseline"):
        if values.get(name) is not None and values.get(name) != "":
            return str(values[name])
    return ""


def _parents(request: MemberRequest, kpi: Kpi | None) -> list[Kpi]:
    org = request.org
    return [k for k in kpi_list(org=org, include_drafts=True) if kpi is None or k.pk != kpi.pk]


@admin_view
@require_http_methods(["GET", "POST"])
def kpi_create(request: MemberRequest) -> HttpResponse:
    org = request.org
    parents = _parents(request, None)
    if request.method == "GET":
        return _form_page(request, KpiForm(initial=NEW_KPI_INITIAL, parents=parents, org=org), None)
    form = KpiForm(request.POST, parents=parents, org=org)
    if form.is_valid():
        try:
            kpi = kpi_services.kpi_create(org=org, actor=actor_of(request), spec=form.spec())
        except ValidationFailed as exc:
            add_errors(form, exc)
        else:
            where = "on Home" if kpi.published else "as a draft"
            messages.success(request, f"Created “{kpi.title}” {where}.")
            return redirect("web:settings-kpis")
    return _form_page(request, form, None, status=422)


@admin_view
@require_http_methods(["GET", "POST"])
def kpi_edit(request: MemberRequest, kpi_id: str) -> HttpResponse:
    org = request.org
    kpi = kpi_get(org=org, kpi_id=kpi_id)
    parents = _parents(request, kpi)
    if request.method == "GET":
        return _form_page(request, KpiForm(initial=kpi_initial(kpi), parents=parents, org=org), kpi)
    form = KpiForm(request.POST, parents=parents, org=org)
    if form.is_valid():
        try:
            # Fields and published state in one service, one transaction.
            kpi = kpi_services.kpi_update(kpi=kpi, actor=actor_of(request), spec=form.spec())
        except ValidationFailed as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Saved “{kpi.title}”.")
            return redirect("web:settings-kpis")
    return _form_page(request, form, kpi, status=422)


@admin_view
@require_POST
def kpi_publish(request: MemberRequest, kpi_id: str) -> HttpResponse:
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    published = request.POST.get("published") == "1"
    kpi_services.kpi_set_published(kpi=kpi, actor=actor_of(request), published=published)
    messages.success(
        request,
        f"“{kpi.title}” is {'on Home now' if published else 'a draft now, hidden from Home'}.",
    )
    return redirect("web:settings-kpis")


@admin_view
@require_POST
def kpi_move(request: MemberRequest, kpi_id: str) -> HttpResponse:
    kpi = kpi_get(org=request.org, kpi_id=kpi_id)
    direction = "up" if request.POST.get("direction") == "up" else "down"
    kpi_services.kpi_move(kpi=kpi, actor=actor_of(request), offset=-1 if direction == "up" else 1)
    return redirect(f"{reverse('web:settings-kpis')}?moved={kpi.pk}&dir={direction}")


@admin_view
@require_http_methods(["GET", "POST"])
def kpi_delete(request: MemberRequest, kpi_id: str) -> HttpResponse:
    org = request.org
    kpi = kpi_get(org=org, kpi_id=kpi_id)
    # Key results that follow the KPI hold it (a PROTECT foreign key): the delete is
    # refused, naming them, until they are unlinked or deleted (DESIGN §11).
    following = list(key_result_list_for_kpi(org=org, kpi=kpi))
    context = {"kpi": kpi, "drivers": list(kpi_drivers(org=org, kpi=kpi)), "following": following}
    if request.method == "GET":
        return render(request, "web/kpi_delete.html", context)
    title = kpi.title
    try:
        kpi_services.kpi_delete(kpi=kpi, actor=actor_of(request))
    except ProtectedError:
        return render(request, "web/kpi_delete.html", context, status=409)
    messages.success(request, f"Deleted “{title}”.")
    return redirect("web:settings-kpis")


def _suggestion(title: str) -> dict[str, Any]:
    detected = parse_title(title[:MAX_TITLE_INPUT]) if title.strip() else None
    if detected is None:
        return {"detected": None}
    # What Apply fills in is what POST /parse-title answers, and the phrase reads it.
    fields: dict[str, Any] = dict(suggested_fields(detected))
    params = ShapeParams(
        shape=fields["shape"],
        **{name: fields[name] for name in PARAM_NAMES if name in fields},
    )
    phrase = target_phrase(
        params,
        unit_type=fields.get("unit_type", UnitType.NUMBER),
        unit_label=fields.get("unit_label", ""),
        display_format=fields.get("display_format", DisplayFormat.DECIMAL_1),
    )
    unit = UNIT_LABELS.get(UnitType(detected.unit_type), "") if detected.unit_type else ""
    if unit and detected.unit_label:
        unit = f"{unit}, {detected.unit_label}"
    return {
        "detected": detected,
        "detected_phrase": phrase,
        "detected_metric": detected.metric.strip(),
        "detected_unit": unit,
        "detected_fields": json.dumps(fields),
    }


@admin_view
@require_POST
def kpi_suggest(request: MemberRequest) -> HttpResponse:
    """htmx: the quick-create suggestion for the title typed so far."""
    return render(
        request,
        "web/kpi_form.html#suggestion",
        _suggestion(request.POST.get("title", "")[:MAX_TITLE_INPUT]),
    )


def _preview(values: Mapping[str, Any], request: MemberRequest, kpi: Kpi | None) -> dict[str, Any]:
    org = request.org

    def text(name: str) -> str:
        raw = values.get(name)
        return raw if isinstance(raw, str) else "" if raw is None else str(raw)

    def number(name: str) -> float | None:
        raw = values.get(name)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        return preview_number(values, name)

    unit_type = text("unit_type") if text("unit_type") in UNIT_LABELS else UnitType.NUMBER
    display_format = text("display_format") if text("display_format") in FORMAT_LABELS else ""
    params = ShapeParams(
        shape=text("shape"),
        threshold=number("threshold"),
        lower=number("lower"),
        upper=number("upper"),
        direction=text("direction") or None,
        baseline=number("baseline"),
        baseline_mode=text("baseline_mode") or BaselineMode.FIXED,
        baseline_period=text("baseline_period") or None,
        warn_at=number("warn_at"),
        warn_margin=number("warn_margin"),
    )
    sample = number("preview_value")
    if sample is None and kpi is not None:
        sample = kpi.current_value
    # With nothing typed, show the target itself, formatted as the KPI will show it.
    for fallback in (params.threshold, params.lower, params.baseline):
        if sample is None:
            sample = fallback
    units = {
        "unit_type": unit_type,
        "unit_label": text("unit_label"),
        "display_format": display_format or DisplayFormat.DECIMAL_1,
        "locale": org.locale,
    }
    status = evaluate(params, sample).value
    label, icon = STATUS_TEXT[status]
    return {
        "value": format_value(sample, **units),
        "target": target_phrase(params, **units),
        "status": status,
        "status_text": label,
        "status_icon": icon,
        "empty": sample is None,
    }


@admin_view
@require_POST
def kpi_preview(request: MemberRequest) -> HttpResponse:
    """htmx: the formatted sample value, its status and the target phrase for the form so far."""
    preview = _preview(request.POST, request, None)
    return render(request, "web/kpi_form.html#preview", {"preview": preview})
