"""Web routes of share links: Settings → Share links (admins) and the public ``/s/<token>/…``.

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from pulseboard.web.views import share_links

urlpatterns: list[URLPattern] = [
    path("settings/share-links/", share_links.share_links, name="share-links"),
    path("settings/share-links/new/", share_links.share_link_new, name="share-link-create"),
    path(
        "settings/share-links/<str:share_link_id>/revoke/",
        share_links.share_link_revoke_view,
        name="share-link-revoke",
    ),
    path("s/<str:token>/", share_links.share_board, name="share-board"),
    path("s/<str:token>/kpis/<str:kpi_id>.svg", share_links.share_badge, name="share-badge"),
    path("s/<str:token>/kpis/<str:kpi_id>/tile.svg", share_links.share_tile, name="share-tile"),
    # Anything else under a token: the same 404 as an unknown token, whatever the path.
    path("s/<str:token>/<path:rest>", share_links.share_nothing, name="share-not-found"),
]
