"""Web routes of target schedules (the KPI form's table of targets over time).

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
