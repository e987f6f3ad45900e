"""Web route of the KPI tree (``/tree/``).

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from pulseboard.web.views import tree

urlpatterns: list[URLPattern] = [path("tree/", tree.tree, name="tree")]
