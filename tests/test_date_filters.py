"""Every date and date-time filter, web and API, answers out-of-range and garbage input with a
clear 4xx (the API's JSON error shape) or a form error, never a 500 (issue 12, item 7).

The filters: the web audit log's ``since``/``until`` (dates in the org's time zone), the API
audit log's ``since``/``until`` and a KPI's history ``since``/``until`` (ISO 8601 date-times
with an offset). The web history export takes a named range only (``?range=``), so it is
here with the same values. Time zones on both sides of UTC: a day's first moment in the
org's zone can fall outside what a ``datetime`` holds once converted to UTC.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.api_client import ApiClient
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi

pytestmark = pytest.mark.django_db

HOSTILE = [
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "garbage",
    "2025-13-45",
    "99999-01-01",
    "",
]
# Representable everywhere: accepted by the API (no 4xx), and nothing breaks downstream.
EXTREMES_OK = [
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
]
# Fixed offsets at the extremes (POSIX names invert the sign): +14:00 and -12:00.
ZONES = ["UTC", "Etc/GMT-14", "Etc/GMT+12"]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin(db: None) -> Any:
    membership = MembershipFactory(role="admin")
    kpi: Any = KpiFactory(org=membership.org, title="NPS")
    value_record(kpi=kpi, value=40, observed_at=None, source="manual", actor=Actor.system())
    return membership


def _web(admin: Any, zone: str) -> Client:
    admin.org.timezone = zone
    admin.org.save(update_fields=["timezone"])
    client = Client()
    client.force_login(admin.user)
    return client


def _must_refuse(zone: str, field: str, value: str) -> bool:
    """Web date filters refuse what is not a date, and a day that has no UTC instant."""
    if value in ("9999-12-31", "0001-01-01"):
        # The inclusive end reads to the next day's first moment; east of UTC the first
        # moment of 0001-01-01 is still in year 0 in UTC.
        return (field, value) == ("until", "9999-12-31") or (
            (field, value, zone) == ("since", "0001-01-01", "Etc/GMT-14")
        )
    return value != ""


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("value", HOSTILE)
def test_web_audit_date_filter_is_a_form_error_never_a_500(
    admin: Any, zone: str, field: str, value: str
) -> None:
    response = _web(admin, zone).get(reverse("web:audit"), {field: value})
    form = response.context["form"]
    body = response.content.decode()
    if _must_refuse(zone, field, value):
        assert response.status_code == 400
        assert field in form.errors, form.errors
        assert 'class="errorlist' in body and "<tbody>" not in body
    else:
        assert response.status_code == 200 and form.is_valid(), form.errors


@pytest.mark.parametrize("zone", ZONES)
def test_web_audit_accepts_the_widest_range_a_zone_can_hold(admin: Any, zone: str) -> None:
    response = _web(admin, zone).get(reverse("web:audit"), {"since": "1970-01-01"})
    assert response.status_code == 200 and response.context["form"].is_valid()
    assert "value.recorded" in response.content.decode()
    response = _web(admin, zone).get(reverse("web:audit"), {"until": "9998-12-30"})
    assert response.status_code == 200 and response.context["form"].is_valid()


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("path", ["/audit", "/kpis/{kpi}/history"])
def test_api_date_time_filter_is_a_json_4xx_never_a_500(
    admin: Any, path: str, field: str, value: str
) -> None:
    kpi = Kpi.objects.get(org=admin.org)
    client = ApiClient.for_org(admin.org)
    response: Any = client.get(path.format(kpi=kpi.pk), {field: value})
    if value == "":
        # An empty parameter is no filter at all, or a clear 422; never a 500.
        assert response.status_code in (200, 422)
        return
    assert response.status_code in (400, 422), response.content
    body = response.json()
    assert isinstance(body["detail"], str) and field in body["detail"]


@pytest.mark.parametrize("value", EXTREMES_OK)
@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/audit", {}),
        ("/kpis/{kpi}/history", {"format": "json"}),
        ("/kpis/{kpi}/history", {"format": "csv"}),
    ],
)
def test_api_date_time_filter_at_the_ends_of_time_works(
    admin: Any, path: str, extra: dict[str, str], field: str, value: str
) -> None:
    kpi = Kpi.objects.get(org=admin.org)
    client = ApiClient.for_org(admin.org)
    response: Any = client.get(path.format(kpi=kpi.pk), {field: value, **extra})
    assert response.status_code == 200, response.content
    if response.streaming:
        b"".join(response.streaming_content)  # the whole export is produced without error


@pytest.mark.parametrize("value", [*HOSTILE, "all", "7d"])
def test_web_history_export_takes_named_ranges_only(admin: Any, value: str) -> None:
    kpi = Kpi.objects.get(org=admin.org)
    client = _web(admin, "UTC")
    response = client.get(reverse("web:kpi-history-csv", args=[kpi.pk]), {"range": value})
    assert response.status_code in (200, 400, 404), response.status_code
    response = client.get(reverse("web:kpi-detail", args=[kpi.pk]), {"range": value})
    assert response.status_code in (200, 400, 404), response.status_code
