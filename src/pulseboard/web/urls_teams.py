"""Web routes of teams: team boards (``/teams/{slug}/``), Settings → Teams, the default board.

Included by ``web/urls.py`` in the ``web`` namespace. Settings routes name a team by its
id (stable across renames); a board by its slug (the address people share).
"""

from __future__ import annotations

from django.urls import URLPattern, path

from pulseboard.web.live import live_fragment
from pulseboard.web.views import teams

urlpatterns: list[URLPattern] = [
    path("teams/<slug:team_slug>/", teams.team_board, name="team-board"),
    path(
        "live/teams/<slug:team_slug>/",
        live_fragment(teams.team_board),
        name="live-team-board",
    ),
    path("settings/teams/", teams.teams, name="teams"),
    path("settings/teams/<str:team_id>/rename/", teams.team_rename, name="team-rename"),
    path("settings/teams/<str:team_id>/delete/", teams.team_delete_view, name="team-delete"),
    path("profile/board/", teams.profile_board, name="profile-board"),
]
