"""Web routes of teams: team boards (``/teams/{slug}/``), Settings → Teams, the default board.

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
