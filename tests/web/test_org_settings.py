"""Settings → Organization: admins set name, locale and time zone; every page then formats
values in the locale and shows dates and times in the time zone (DESIGN §4, §15)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from tests.api_client import api_token
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership, Organization
from pulseboard.web.charts import history_chart

pytestmark = pytest.mark.django_db
URL = reverse("web:org-settings")
# 03:00 UTC on 15 January is 22:00 on the 14th in New York (EST, UTC-5).
NIGHT = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)
NOON = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def _set(org: Organization, **fields: str) -> None:
    Organization.objects.filter(pk=org.pk).update(**fields)


def _kpi_with_night_values(org: Organization) -> Kpi:
    kpi = KpiFactory(org=org, title="Orders", unit_type="number", display_format="decimal_1")
    for hours, value in ((0, 1234.5), (2, 1300.0)):
        value_record(
            kpi=kpi,
            value=value,
            observed_at=NIGHT.replace(hour=3 + hours),
            source="manual",
            actor=Actor.system("test"),
        )
    return kpi


def test_the_page_shows_the_current_settings_and_suggestions(
    admin_client: Client, admin: Membership
) -> None:
    _set(admin.org, locale="de_DE", timezone="Europe/Berlin")
    page = admin_client.get(URL).content.decode()
    assert f'value="{admin.org.name}"' in page
    assert 'value="de_DE"' in page and 'value="Europe/Berlin"' in page
    assert '<option value="fr_CH">French (Switzerland)</option>' in page
    assert '<option value="America/New_York"></option>' in page
    assert "1.234.567,89" in page  # the sample number, in the org's locale
    assert "UTC+0100" in page or "UTC+0200" in page
    assert f'href="{URL}" aria-current="page">Organization</a>' in page


def test_saving_changes_the_org_shows_a_message_and_is_audited(
    admin_client: Client, admin: Membership
) -> None:
    response = admin_client.post(
        URL,
        {"name": "Acme GmbH", "locale": "de-de", "timezone": "europe/berlin"},
        REMOTE_ADDR="192.0.2.9",
    )
    assert response.status_code == 302 and response["Location"] == URL
    org = Organization.objects.get(pk=admin.org.pk)
    assert (org.name, org.locale, org.timezone) == ("Acme GmbH", "de_DE", "Europe/Berlin")
    event = AuditEvent.objects.get(org=org, action="org.updated")
    assert event.actor_id == str(admin.user.pk) and event.ip == "192.0.2.9"
    assert event.after == {"name": "Acme GmbH", "locale": "de_DE", "timezone": "Europe/Berlin"}
    page = admin_client.get(URL).content.decode()
    assert "Saved: Acme GmbH · de_DE · Europe/Berlin." in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"locale": "klingon"}, "is not a locale this server knows"),
        ({"locale": "de_DE.UTF-8"}, "is not a locale id such as en_US"),
        ({"timezone": "Europe/Atlantis"}, "is not a time zone this server knows"),
        ({"timezone": "../../etc/passwd"}, "is not an IANA time zone name"),
        ({"name": "   "}, "This field is required."),
        ({"name": "Acme\x00"}, "Null characters are not allowed."),
        ({"name": "x" * 121}, "at most 120 characters"),
        ({"timezone": "x" * 5000}, "at most 64 characters"),
    ],
)
def test_a_bad_value_is_shown_on_the_form_and_nothing_changes(
    admin_client: Client, admin: Membership, form: dict[str, str], message: str
) -> None:
    data = {"name": "Renamed", "locale": "fr_FR", "timezone": "Europe/Paris", **form}
    response = admin_client.post(URL, data)
    assert response.status_code == 422
    assert message in response.content.decode()
    org = Organization.objects.get(pk=admin.org.pk)
    assert (org.name, org.locale, org.timezone) == (admin.org.name, "en_US", "UTC")
    assert not AuditEvent.objects.filter(action="org.updated").exists()


def test_members_get_the_forbidden_page_and_see_no_link(
    member_client: Client, member: Membership
) -> None:
    assert member_client.get(URL).status_code == 403
    response = member_client.post(URL, {"name": "Mine", "locale": "en_US", "timezone": "UTC"})
    assert response.status_code == 403
    assert Organization.objects.get(pk=member.org.pk).name != "Mine"
    assert URL not in member_client.get(reverse("web:home")).content.decode()


def test_an_admin_changes_only_the_org_they_are_in(admin_client: Client, admin: Membership) -> None:
    other = MembershipFactory(user=admin.user, role="admin").org
    admin_client.post(URL, {"name": "Renamed", "locale": "en_US", "timezone": "UTC"})
    assert Organization.objects.get(pk=other.pk).name == other.name
    assert Organization.objects.get(pk=admin.org.pk).name == "Renamed"


def test_home_formats_values_in_the_locale_set_here(
    admin_client: Client, admin: Membership, member_client: Client
) -> None:
    kpi = KpiFactory(org=admin.org, title="Orders", unit_type="number", display_format="decimal_1")
    value_record(kpi=kpi, value=1234.5, observed_at=None, source="manual", actor=Actor.system())
    assert "1,234.5" in member_client.get(reverse("web:home")).content.decode()
    form = {"name": admin.org.name, "locale": "de_DE", "timezone": "UTC"}
    assert admin_client.post(URL, form).status_code == 302
    page = member_client.get(reverse("web:home")).content.decode()
    assert "1.234,5" in page and "1,234.5" not in page


def test_the_chart_labels_its_time_axis_in_the_given_zone() -> None:
    points = [(NIGHT, 1.0), (NIGHT.replace(hour=5), 2.0)]
    svg = history_chart(points, title="t", tick_label=lambda v, s: str(v))
    assert ">03:00</text>" in svg
    svg = history_chart(
        points, title="t", tick_label=lambda v, s: str(v), zone=ZoneInfo("America/New_York")
    )
    assert ">22:00</text>" in svg and ">00:00</text>" in svg and ">03:00</text>" not in svg


@time_machine.travel(NOON, tick=False)
def test_the_detail_page_shows_times_in_the_orgs_time_zone(
    member_client: Client, member: Membership
) -> None:
    kpi = _kpi_with_night_values(member.org)
    url = reverse("web:kpi-detail", args=[kpi.pk])
    page = member_client.get(url).content.decode()
    assert "15 Jan 2025, 03:00" in page and '<text class="chart-axis"' in page
    _set(member.org, timezone="America/New_York")
    page = member_client.get(url).content.decode()
    assert '<time datetime="2025-01-14T22:00:00-05:00">14 Jan 2025, 22:00</time>' in page
    assert "15 Jan 2025, 00:00" in page  # the 05:00 UTC value
    assert "15 Jan 2025, 03:00" not in page
    # The chart's time axis too: its first label is the first value's local time.
    axis = [part.split(">", 1)[1] for part in page.split('<text class="chart-axis"')[1:]]
    assert any(label.startswith("22:00<") for label in axis)
    assert not any(label.startswith("03:00<") for label in axis)


@time_machine.travel(NOON, tick=False)
def test_the_audit_log_shows_times_in_the_orgs_time_zone(
    admin_client: Client, admin: Membership
) -> None:
    _kpi_with_night_values(admin.org)
    _set(admin.org, timezone="Asia/Kolkata")  # UTC+05:30
    page = admin_client.get(reverse("web:audit")).content.decode()
    assert "15 Jan 2025, 17:30" in page and "15 Jan 2025, 12:00" not in page


@time_machine.travel(NOON, tick=False)
def test_the_api_stays_in_utc_whatever_the_orgs_time_zone(admin: Membership) -> None:
    kpi = _kpi_with_night_values(admin.org)
    _set(admin.org, timezone="America/New_York")
    # Signed in to the org in the web too: the web's time zone must not leak into the API.
    client = Client(headers={"Authorization": f"Bearer {api_token(admin.org)}"})
    client.force_login(admin.user)
    streamed = client.get(f"/api/v1/kpis/{kpi.pk}/history")
    body = json.loads(b"".join(streamed.streaming_content))  # type: ignore[attr-defined]
    rows = body["history"]
    assert datetime.fromisoformat(rows[0]["observed_at"]) == NIGHT
    assert rows[0]["observed_at"].endswith(("Z", "+00:00"))
    detail = client.get(f"/api/v1/kpis/{kpi.pk}").json()
    assert detail["observed_at"].endswith(("Z", "+00:00"))
