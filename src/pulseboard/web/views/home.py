"""Home: the member's default board (DESIGN §13), else every published KPI of the org as a
tile, in admin-chosen order. ``?board=org`` always shows the org board; a team board
as default is rendered by ``views/teams.py`` (``board_page``)."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from pulseboard.core import clock
from pulseboard.indicators.selectors import kpi_list, kpi_list_for_home
from pulseboard.orgs.teams import team_list
from pulseboard.web.access import MemberRequest, member_view
from pulseboard.web.live import HOME, live_page
from pulseboard.web.tiles import tiles_for, tiles_rendered
from pulseboard.web.views.teams import board_context, board_page

ORG_BOARD = "org"


@member_view
@require_GET
@live_page(HOME)
def home(request: MemberRequest) -> HttpResponse:
    org = request.org
    default_id = request.membership.default_team_id
    if default_id and request.GET.get("board") != ORG_BOARD:
        # Deleting a team clears it as a default (SET_NULL), so this finds it unless it
        # went in between; then the org board it is.
        team = team_list(org=org).filter(pk=default_id).first()
        if team is not None:
            return board_page(request, team)
    tiles = tiles_rendered(
        org,
        tiles_for(org=org, kpis=list(kpi_list_for_home(org=org)), now=clock.now()),
        is_org_admin=request.membership.is_admin,
    )
    has_drafts = (
        not tiles
        and request.membership.is_admin
        and kpi_list(org=org, include_drafts=True).exists()
    )
    context = {**board_context(request, None, tiles), "has_drafts": has_drafts}
    # A TemplateResponse, so the live poll (web/live.py) can render only the board partial.
    return TemplateResponse(request, "web/home.html", context)
