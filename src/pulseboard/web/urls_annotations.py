"""Web routes of annotations: add and delete on a KPI's detail page.

Included by ``web/urls.py`` in the ``web`` namespace.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from pulseboard.web.views import annotations as views

urlpatterns: list[URLPattern] = [
    path("kpis/<str:kpi_id>/annotations/", views.annotation_add, name="annotation-add"),
    path(
        "annotations/<str:annotation_id>/delete/",
        views.annotation_delete,
        name="annotation-delete",
    ),
]
