"""Every date and time a web page shows is in the request's organization's time zone (§15).

``OrgTimezoneMiddleware`` runs after ``CurrentOrgMiddleware`` and activates the time
zone of ``request.org`` for the rest of the request, so Django's ``date``/``time``
template filters, ``timezone.localtime`` and naive form input all speak the org's
time; it is deactivated again when the response is done, so a thread serving another
org next starts from UTC. Requests without an org (anonymous pages, API calls with a
token and no session) stay in UTC. Values kept in the database and answers of the API
are unaffected: they stay aware UTC datetimes written as ISO 8601 with an offset.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from pulseboard.orgs.localization import zone_of


class OrgTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        org = getattr(request, "org", None)
        if org is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zone_of(org.timezone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
