"""Root URLconf: web app, REST API, inbound webhooks, ops endpoints."""

from django.urls import include, path

from pulseboard.api import api
from pulseboard.connectors.views import webhook_receive
from pulseboard.ops import views as ops_views

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("pulseboard.web.urls")),
    path("hooks/kpis/<str:kpi_id>", webhook_receive, name="hooks-kpi"),
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
]

# A database outage raised outside a view (middleware) answers 503, not 500.
handler500 = "pulseboard.core.db_outage.server_error"
