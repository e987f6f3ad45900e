"""Web routes of live pages (poll fragments answered with ETag / 304).

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
