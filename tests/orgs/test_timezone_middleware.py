"""The org's time zone is active while its request runs, and only then."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone
from tests.factories import OrganizationFactory

from pulseboard.orgs.timezone_middleware import OrgTimezoneMiddleware

pytestmark = pytest.mark.django_db


def _zone_seen(org: object) -> tuple[str, str]:
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(str(timezone.get_current_timezone()))
        return HttpResponse()

    request = RequestFactory().get("/")
    request.org = org  # type: ignore[attr-defined]
    OrgTimezoneMiddleware(view)(request)
    return seen[0], str(timezone.get_current_timezone())


def test_the_orgs_zone_is_active_during_the_request_and_not_after() -> None:
    org = OrganizationFactory(timezone="America/New_York")
    assert _zone_seen(org) == ("America/New_York", "UTC")


def test_a_request_without_an_org_runs_in_utc_whatever_ran_before() -> None:
    timezone.activate(timezone.get_fixed_timezone(180))
    try:
        assert _zone_seen(None) == ("UTC", "UTC")
    finally:
        timezone.deactivate()


def test_a_stored_zone_the_server_cannot_load_reads_as_utc() -> None:
    org = OrganizationFactory(timezone="Gone/Removed")
    assert _zone_seen(org) == ("UTC", "UTC")


def test_the_zone_is_deactivated_when_the_view_raises() -> None:
    org = OrganizationFactory(timezone="Asia/Tokyo")

    def view(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("boom")

    request = RequestFactory().get("/")
    request.org = org  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        OrgTimezoneMiddleware(view)(request)
    assert str(timezone.get_current_timezone()) == "UTC"
