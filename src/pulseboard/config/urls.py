"""Root URLconf: web app, REST API, inbound webhooks, ops endpoints."""

from django.urls import include, path

from pulseboard.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("pulseboard.web.urls")),
]
