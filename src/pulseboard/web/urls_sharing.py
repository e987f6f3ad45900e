"""Web routes of the TV board (``/tv/``), share links (``/s/{token}/…``) and their settings.

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
