"""Home: every published KPI of the member's org as a tile, in admin-chosen order."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from pulseboard.core import clock
from pulseboard.indicators.selectors import kpi_cards, kpi_list_for_home


@login_required
def home(request: HttpRequest) -> HttpResponse:
    org = request.org  # type: ignore[attr-defined]
    if org is None:
        return render(request, "web/no_org.html", status=403)
    cards = kpi_cards(org=org, kpis=list(kpi_list_for_home(org=org)), now=clock.now())
    return render(request, "web/home.html", {"cards": cards})
