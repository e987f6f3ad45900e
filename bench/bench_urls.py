"""Benchmark-only URLs: the app's, plus ``/bench/one-row`` (commits one row per request).

That endpoint is the durable-write floor the webhook ingest is compared with: the
same server, process and thread count, one INSERT in one transaction per request.
"""

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from pulseboard.config.urls import urlpatterns as app_urlpatterns

FLOOR_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_floor (id {pk}, at TEXT NOT NULL, body TEXT NOT NULL)"
)


@csrf_exempt
def one_row(request: HttpRequest) -> JsonResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor (at, body) VALUES (CURRENT_TIMESTAMP, %s)",
            [request.body[:1000].decode("utf-8", "replace")],
        )
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/one-row", one_row), *app_urlpatterns]
