"""``/healthz`` (the process answers), ``/readyz`` (the database answers) and ``/metrics``.

None of them needs a login: load balancers and Prometheus call them. ``/healthz`` never
touches the database, so a database outage does not make an orchestrator restart healthy
web processes; ``/readyz`` does, so a load balancer stops routing to a process that cannot
serve. ``/metrics`` shows counts only, never an organization's data; with
``PULSEBOARD_METRICS_TOKEN`` set it also wants ``Authorization: Bearer <token>``
(compared in constant time), for a server whose ``/metrics`` the internet can reach.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from pulseboard.ops.metrics import render

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # The driver's message can carry host names and user names: log it, answer plainly.
        logger.warning("readiness check failed: %s", exc.__class__.__name__)
        return JsonResponse(
            {"status": "unavailable", "detail": "the database is not reachable"}, status=503
        )
    return JsonResponse({"status": "ready"})


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = str(request.headers.get("Authorization", "")).partition(" ")
    if scheme.lower() != "bearer":
        return False
    # compare_digest takes as long whichever byte differs: the token cannot be guessed
    # one character at a time from response times.
    return hmac.compare_digest(
        given.strip().encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    token = str(settings.PULSEBOARD.get("METRICS_TOKEN") or "")
    if token and not _bearer_matches(request, token):
        response = JsonResponse(
            {"detail": "a valid metrics token is required (Authorization: Bearer …)"},
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = render()
    return HttpResponse(body, content_type=content_type)
