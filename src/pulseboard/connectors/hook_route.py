"""Inbound webhooks skip the browser middleware: ``/hooks/kpis/<kpi_id>`` answered early.

A delivery is a machine's signed POST: it carries no session, cookie, CSRF token or org
choice, so the session, CSRF, auth, org, time zone, messages and CSP middlewares have
nothing to do for it, yet they cost about as much CPU as the delivery itself. Placed
after the request guards (client address, metrics, security headers, the API error
shape, the database-outage answer, NUL and URI-length guards), this middleware hands
the exact path of the route in ``config/urls.py`` to the same view; everything else goes
on through the stack. The headers the skipped middlewares would add to a JSON answer
(frame and content-security policy) are set here.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import ResolverMatch

from pulseboard.connectors.views import webhook_receive

PREFIX = "/hooks/kpis/"
ROUTE = "hooks/kpis/<str:kpi_id>"
ROUTE_NAME = "hooks-kpi"


class WebhookRouteMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not path.startswith(PREFIX):
            return self.get_response(request)
        kpi_id = path[len(PREFIX) :]
        # The route's ``<str:kpi_id>``: one non-empty segment; anything else is routed as usual.
        if not kpi_id or "/" in kpi_id:
            return self.get_response(request)
        # What URL resolving would have set: the metrics label requests by route name.
        request.resolver_match = ResolverMatch(
            webhook_receive, (), {"kpi_id": kpi_id}, url_name=ROUTE_NAME, route=ROUTE
        )
        response = webhook_receive(request, kpi_id)
        response["X-Frame-Options"] = "DENY"
        response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return response
