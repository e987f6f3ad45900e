"""Inline value edit (admins), on a Home tile or a Settings → KPIs row, through htmx.

GET with ``edit=1`` swaps the value for a small form; Enter posts it, Esc (in
``pulseboard.js``) asks for the plain tile again. A good number is recorded
through ``value_record`` and the whole tile comes back, so its colour, change
and "updated" line follow; a bad one comes back in place with its error (422)
and nothing is written. Without htmx the same form posts and redirects.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from pulseboard.core import clock
from pulseboard.core.errors import ValidationFailed
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_get
from pulseboard.web.access import MemberRequest, actor_of, admin_view, is_htmx
from pulseboard.web.forms import ValueForm
from pulseboard.web.tiles import tiles_for

PLACES = {
    "tile": ("web/home.html#tile", "web:home"),
    "row": ("web/kpi_list.html#kpi-row", "web:settings-kpis"),
}


def value_text(value: float | None) -> str:
    """The stored value as an editable string: no exponent for everyday sizes, no trailing .0."""
    if value is None:
        return ""
    return f"{value:.15g}"


def _render(
    request: MemberRequest, kpi: Kpi, place: str, status: int = 200, **extra: Any
) -> HttpResponse:
    org = request.org
    tile = tiles_for(org=org, kpis=[kpi], now=clock.now(), sparklines=place == "tile")[0]
    context = {"tile": tile, "value_text": value_text(kpi.current_value), **extra}
    return render(request, PLACES[place][0], context, status=status)


@admin_view
@require_http_methods(["GET", "POST"])
def kpi_value(request: MemberRequest, kpi_id: str) -> HttpResponse:
    org = request.org
    kpi = kpi_get(org=org, kpi_id=kpi_id)
    place = "row" if request.GET.get("in", request.POST.get("in")) == "row" else "tile"
    if request.method == "GET":
        if not is_htmx(request):
            return redirect(PLACES[place][1])
        return _render(request, kpi, place, editing=request.GET.get("edit") == "1")
    form = ValueForm(request.POST, unit_type=kpi.unit_type)
    error = ""
    if form.is_valid():
        try:
            value_record(
                kpi=kpi,
                value=form.cleaned_data["value"],
                observed_at=None,
                source="manual",
                actor=actor_of(request),
            )
        except ValidationFailed as exc:
            error = exc.errors.get("value") or exc.message
        else:
            if not is_htmx(request):
                messages.success(request, f"Saved the value of {kpi.title}.")
                return redirect(PLACES[place][1])
            return _render(request, kpi_get(org=org, kpi_id=kpi.pk), place, focus_value=True)
    else:
        error = " ".join(str(message) for message in form.errors.get("value", ["Enter a number."]))
    if not is_htmx(request):
        messages.error(request, f"{kpi.title}: {error} Nothing was saved.")
        return redirect(PLACES[place][1])
    return _render(
        request,
        kpi,
        place,
        status=422,
        editing=True,
        value_error=error,
        value_text=request.POST.get("value", "")[:64],
    )
