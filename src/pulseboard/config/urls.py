"""Root URLconf: web app, REST API, inbound webhooks, ops endpoints."""

from django.urls import include, path

urlpatterns = [
    path("", include("pulseboard.web.urls")),
]
