"""Requests refused by their URL alone, before any view runs: NUL in the path, URL too long.

``NulPathGuardMiddleware``: a URL path with a NUL character names nothing (404).

PostgreSQL text cannot hold NUL, so a lookup of ``/kpis/%00/`` by id would fail inside
the database (a 500) instead of finding nothing. The REST API and the webhook endpoint
check their ids themselves (``api_input.is_object_id``, the webhook's id pattern, which
also keeps an unknown KPI's answer identical to a bad signature); every other path gets
its 404 here, so no web view has to repeat the check. Query strings and form fields are
validated by forms, which refuse NUL already.

``UriLengthGuardMiddleware``: a path and query longer than ``MAX_URI_LENGTH`` answer 414,
in the API's JSON error shape (``{"detail": ...}``) under ``/api/`` and ``/hooks/`` and
as a page elsewhere. gunicorn refuses a longer request line itself, before Django sees
it, with a plain-text 414; ``server.gunicorn_options`` sets its limit at its maximum
(8190) so that every URL between the two limits gets this shaped answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse

SELF_CHECKING: Final = ("/api/", "/hooks/")
MACHINE_PREFIXES: Final = ("/api/", "/hooks/")
# gunicorn's default request-line limit was 4094 bytes; the same order, measured on the
# URL (path and query) alone.
MAX_URI_LENGTH: Final = 4096


class NulPathGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info and not request.path_info.startswith(SELF_CHECKING):
            return HttpResponseNotFound(
                "<!doctype html><title>Not found</title><h1>Not found</h1>",
                content_type="text/html; charset=utf-8",
            )
        return self.get_response(request)


class UriLengthGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("RAW_URI") or request.get_full_path()
        if len(raw) <= MAX_URI_LENGTH:
            return self.get_response(request)
        detail = f"the URL is longer than {MAX_URI_LENGTH} characters"
        if request.path_info.startswith(MACHINE_PREFIXES):
            return JsonResponse({"detail": detail}, status=414)
        return HttpResponse(
            f"<!doctype html><title>URL too long</title><h1>URL too long</h1><p>{detail}.</p>",
            content_type="text/html; charset=utf-8",
            status=414,
        )
