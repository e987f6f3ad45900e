"""Home: every published KPI of the member's org as a tile, in admin-chosen order."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from pulseboard.core import clock
from pulseboard.indicators.selectors import kpi_list, kpi_list_for_home
from pulseboard.web.access import MemberRequest, member_view
from pulseboard.web.live import HOME, live_page
from pulseboard.web.tiles import tiles_for


@member_view
@require_GET
@live_page(HOME)
def home(request: MemberRequest) -> HttpResponse:
    org = request.org
    tiles = tiles_for(org=org, kpis=list(kpi_list_for_home(org=org)), now=clock.now())
    has_drafts = (
        not tiles
        and request.membership.is_admin
        and kpi_list(org=org, include_drafts=True).exists()
    )
    # A TemplateResponse, so the live poll (web/live.py) can render only the board partial.
    return TemplateResponse(request, "web/home.html", {"tiles": tiles, "has_drafts": has_drafts})
