"""503 (never 500) while the database is unreachable, for every view and every middleware.

A database restart or failover is an outage, not a bug: clients should retry, load
balancers should route elsewhere, and nothing was half-written (every write is one
transaction). Two places turn ``django.db.OperationalError`` / ``InterfaceError`` (refused
or dropped connections, a server starting up or shutting down, SQLite's busy timeout)
into a 503 with ``Retry-After``:

- ``DatabaseOutageMiddleware.process_exception`` for anything a view raises (including the
  lazy session and user loads a view triggers, the API's token check and the webhook
  endpoint's lookup);
- ``server_error``, the project's ``handler500``, for what other middleware raises
  outside a view (the current-org lookup, the session save after the view). Django turns
  those into a response before any outer middleware could catch them, so the 500 handler
  is the one place that sees them.

``/api/`` and ``/hooks/`` callers get ``{"detail": ...}`` JSON like every other API error;
browsers get a short static page (no template: rendering one may query the database).
Everything else still falls through to Django's plain 500 page.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Final

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 5
JSON_PREFIXES: Final = ("/api/", "/hooks/")
DETAIL: Final = "the database is unavailable right now; retry in a few seconds"
PAGE: Final = (
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    "<title>Pulseboard is briefly unavailable</title></head><body>"
    "<h1>Pulseboard is briefly unavailable</h1>"
    "<p>The database is not answering. Nothing you sent was half-saved; "
    "reload this page in a few seconds.</p></body></html>"
)


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` means "the database cannot serve now" rather than a bug."""
    return isinstance(exc, OperationalError | InterfaceError)


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 for ``request``: JSON for machine callers, a static page for people."""
    # The driver's message can name hosts and users: the class name is enough to act on.
    logger.warning(
        "database unavailable (%s) while serving %s %s",
        exc.__class__.__name__,
        request.method,
        request.path,
    )
    response: HttpResponse
    if request.path.startswith(JSON_PREFIXES):
        response = JsonResponse({"detail": DETAIL}, status=503)
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    """Answers 503 when a view fails because the database is unreachable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_outage(exception):
            return outage_response(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a 503 when the uncaught exception is a database outage, else Django's 500.

    Django calls it while handling the exception, so ``sys.exc_info()`` names it.
    """
    exc = sys.exc_info()[1]
    if exc is not None and is_outage(exc):
        return outage_response(request, exc)
    return defaults.server_error(request)
