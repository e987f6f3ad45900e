"""Web routes of live pages (poll fragments answered with ETag / 304) and the TV board.

Included by ``web/urls.py`` in the ``web`` namespace. Each ``live/…`` route answers the
polls of one page (``web/live.py``): 304 when the board has not changed, else the page's
``live_board`` partial.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from pulseboard.web.live import live_fragment
from pulseboard.web.views import goals, home, kpi_detail, tv

urlpatterns: list[URLPattern] = [
    path("live/home/", live_fragment(home.home), name="live-home"),
    path("live/kpis/<str:kpi_id>/", live_fragment(kpi_detail.kpi_detail), name="live-kpi"),
    path("live/goals/", live_fragment(goals.goals), name="live-goals"),
    path("tv/", tv.tv, name="tv"),
    path("tv/board/", tv.tv_board, name="tv-board"),
]
