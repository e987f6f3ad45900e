"""A URL path with a NUL character names nothing: answer 404 before any view runs.

PostgreSQL text cannot hold NUL, so a lookup of ``/kpis/%00/`` by id would fail inside
the database (a 500) instead of finding nothing. The REST API and the webhook endpoint
check their ids themselves (``api_input.is_object_id``, the webhook's id pattern, which
also keeps an unknown KPI's answer identical to a bad signature); every other path gets
its 404 here, so no web view has to repeat the check. Query strings and form fields are
validated by forms, which refuse NUL already.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound

SELF_CHECKING: Final = ("/api/", "/hooks/")


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
