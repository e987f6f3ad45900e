"""Web routes of target schedules (the KPI form's table of targets over time).

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from pulseboard.web.views import targets

urlpatterns: list[URLPattern] = [
    path("settings/kpis/<str:kpi_id>/targets/", targets.kpi_targets, name="kpi-targets"),
]
