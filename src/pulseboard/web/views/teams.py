"""Team boards, Settings → Teams and each member's default board (DESIGN §13).

A team board (``/teams/{slug}/``) is Home narrowed to one team's published KPIs: the
same tiles (``web/tiles.py``, the ``tile`` partial of ``web/home.html``), in Home
order, built in the constant number of queries of ``kpi_cards`` whatever the number
of KPIs, and live like Home (``web/live.py``). Every board shows the board switcher
(the org board and each team's) and, for admins, the "more than 8" note for that
board. ``/`` shows the member's default board (``board_page`` below, used by
``views/home.py``); ``/?board=org`` always shows the org board.

Settings → Teams (admins) lists the teams with their published KPI counts and
creates, renames and deletes them through ``orgs/teams.py``, which checks and audits
every write. The profile's board page lets any member pick their default board.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pulseboard.core import clock
from pulseboard.core.errors import DomainError
from pulseboard.indicators.selectors import kpi_list_for_home
from pulseboard.orgs.models import Team
from pulseboard.orgs.teams import (
    member_default_board_set,
    team_create,
    team_delete,
    team_get,
    team_get_by_slug,
    team_list,
    team_update,
)
from pulseboard.web.access import MemberRequest, actor_of, admin_view, member_view
from pulseboard.web.forms import add_errors
from pulseboard.web.live import Board, board_stamp, live_page
from pulseboard.web.team_forms import ORG_BOARD, BoardForm, TeamForm
from pulseboard.web.tiles import Tile, tiles_for, tiles_rendered

# A board works best with a handful of headline numbers (DESIGN §7); the note says so.
BOARD_NOTE_ABOVE = 8
TEAM_BOARD = Board(
    kind="team",
    stamp=lambda org, team_slug: board_stamp(org),
    poll_route="web:live-team-board",
)


def board_context(request: MemberRequest, team: Team | None, tiles: list[Tile]) -> dict[str, Any]:
    """What the board switcher and the per-board note need (one query: the org's teams)."""
    default_id = request.membership.default_team_id
    return {
        "tiles": tiles,
        "board_team": team,
        "boards": list(team_list(org=request.org)),
        "default_team_id": default_id,
        # With a team as default, "/" is that team's board: the org board needs ?board=org.
        "org_board_url": reverse("web:home") + ("?board=org" if default_id else ""),
        "board_note_above": BOARD_NOTE_ABOVE,
    }


def board_page(request: MemberRequest, team: Team) -> TemplateResponse:
    """``team``'s board; a TemplateResponse, so a live poll can render only the board."""
    org = request.org
    tiles = tiles_rendered(
        org,
        tiles_for(org=org, kpis=list(kpi_list_for_home(org=org, team=team)), now=clock.now()),
        is_org_admin=request.membership.is_admin,
    )
    return TemplateResponse(request, "web/team_board.html", board_context(request, team, tiles))


@member_view
@require_GET
@live_page(TEAM_BOARD)
def team_board(request: MemberRequest, team_slug: str) -> HttpResponse:
    team = team_get_by_slug(org=request.org, slug=team_slug)
    return board_page(request, team)


# --- Settings → Teams -----------------------------------------------------------------------


def _teams_page(
    request: MemberRequest,
    *,
    form: TeamForm | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    teams = team_list(org=request.org).annotate(
        published=Count("kpis", filter=Q(kpis__published=True))
    )
    context = {
        "teams": list(teams),
        "form": form or TeamForm(),
        "row_errors": errors or {},
        "board_note_above": BOARD_NOTE_ABOVE,
    }
    return render(request, "web/teams.html", context, status=status)


@admin_view
@require_http_methods(["GET", "POST"])
def teams(request: MemberRequest) -> HttpResponse:
    if request.method == "GET":
        return _teams_page(request)
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = team_create(
                org=request.org,
                actor=actor_of(request),
                name=form.cleaned_data["name"],
                slug=form.cleaned_data.get("slug") or None,
            )
        except DomainError as exc:
            add_errors(form, exc)
            return _teams_page(request, form=form, status=exc.status)
        messages.success(
            request, f"Created the team “{team.name}”: its board is /teams/{team.slug}/."
        )
        return redirect("web:teams")
    return _teams_page(request, form=form, status=422)


@admin_view
@require_POST
def team_rename(request: MemberRequest, team_id: str) -> HttpResponse:
    team = team_get(org=request.org, team_id=team_id)
    form = TeamForm(request.POST)
    if not form.is_valid():
        message = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return _teams_page(request, errors={team.pk: message}, status=422)
    try:
        team_update(
            team=team,
            actor=actor_of(request),
            name=form.cleaned_data["name"],
            slug=form.cleaned_data.get("slug") or None,
        )
    except DomainError as exc:
        return _teams_page(request, errors={team.pk: exc.message}, status=exc.status)
    messages.success(request, f"Saved the team “{team.name}”.")
    return redirect("web:teams")


@admin_view
@require_http_methods(["GET", "POST"])
def team_delete_view(request: MemberRequest, team_id: str) -> HttpResponse:
    team = team_get(org=request.org, team_id=team_id)
    if request.method == "POST":
        name = team.name
        team_delete(team=team, actor=actor_of(request))
        messages.success(request, f"Deleted the team “{name}”.")
        return redirect("web:teams")
    context = {
        "what": "team",
        "title": team.name,
        "consequence": "Its KPIs and objectives stay, without a team; its board goes, and "
        "members who opened Home on it see the org board again.",
        "action": reverse("web:team-delete", args=[team.pk]),
        "cancel": reverse("web:teams"),
    }
    return render(request, "web/goal_delete.html", context)


# --- Profile → default board ----------------------------------------------------------------


@member_view
@require_http_methods(["GET", "POST"])
def profile_board(request: MemberRequest) -> HttpResponse:
    teams_of_org = list(team_list(org=request.org))
    if request.method == "GET":
        initial = {"board": request.membership.default_team_id or ORG_BOARD}
        form = BoardForm(initial=initial, teams=teams_of_org)
        return render(request, "web/profile_board.html", {"form": form})
    form = BoardForm(request.POST, teams=teams_of_org)
    if not form.is_valid():
        return render(request, "web/profile_board.html", {"form": form}, status=422)
    chosen = form.cleaned_data.get("board") or ORG_BOARD
    team = next((t for t in teams_of_org if t.pk == chosen), None)
    member_default_board_set(membership=request.membership, team=team, actor=actor_of(request))
    board = f"the {team.name} board" if team else "the org board"
    messages.success(request, f"Home now opens with {board}.")
    return redirect("web:home")
