"""Web routes of the KPI tree: the page (``/tree/``) and its live poll (``/live/tree/``).

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from pulseboard.web.live import live_fragment
from pulseboard.web.views import tree

urlpatterns: list[URLPattern] = [
    path("tree/", tree.tree, name="tree"),
    path("live/tree/", live_fragment(tree.tree), name="live-tree"),
]
