"""Inline value edit: htmx fragments for tile and row, a good number is recorded and the tile
changes colour, a bad one comes back in place with its error and writes nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory
from tests.web.conftest import HTMX

from pulseboard.audit.models import AuditEvent
from pulseboard.connectors.values import parse_number
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def kpi(admin: Membership) -> Kpi:
    return KpiFactory(org=admin.org, title="NPS", threshold=35, display_format="integer")


def url(kpi: Kpi) -> str:
    return reverse("web:kpi-value", args=[kpi.pk])


def test_edit_swaps_the_tile_for_a_focused_form(admin_client: Client, kpi: Kpi) -> None:
    response = admin_client.get(url(kpi) + "?in=tile&edit=1", headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<li class="tile status-unknown editing" id="tile-{kpi.pk}"')
    assert 'class="value-edit"' in body and "autofocus" in body and "data-cancel" in body
    assert "<html" not in body


def test_cancel_returns_the_plain_tile(admin_client: Client, kpi: Kpi) -> None:
    body = admin_client.get(url(kpi) + "?in=tile", headers=HTMX).content.decode()
    assert 'class="value-edit"' not in body and 'class="value-button"' in body


def test_a_good_value_is_recorded_and_the_tile_changes_colour(
    admin_client: Client, kpi: Kpi, admin: Membership
) -> None:
    response = admin_client.post(url(kpi), {"value": "41", "in": "tile"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="tile status-green"' in body and "On track" in body
    assert ">41<" in body.replace('<span class="edit-pen"', "<")
    assert Kpi.objects.get(pk=kpi.pk).current_value == 41
    event = AuditEvent.objects.get(action="value.recorded")
    assert event.actor_label == admin.user.email and event.after["source"] == "manual"
    response = admin_client.post(url(kpi), {"value": "12", "in": "tile"}, headers=HTMX)
    assert 'class="tile status-red"' in response.content.decode()


@pytest.mark.parametrize("typed", ["abc", "", "nan", "inf", "1e999", "1,5", "9" * 70, "12 pcs"])
def test_a_bad_number_shows_its_error_in_place_and_writes_nothing(
    admin_client: Client, kpi: Kpi, typed: str
) -> None:
    response = admin_client.post(url(kpi), {"value": typed, "in": "tile"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 422
    assert 'class="value-edit"' in body and 'role="alert"' in body
    assert 'aria-invalid="true"' in body
    assert not KpiHistory.objects.exists()
    assert not AuditEvent.objects.filter(action="value.recorded").exists()
    assert Kpi.objects.get(pk=kpi.pk).current_value is None


@pytest.mark.parametrize(
    ("typed", "stored"), [("1,234.5", 1234.5), (" -3 ", -3.0), ("\u22122", -2.0)]
)
def test_grouped_and_signed_numbers_are_understood(
    admin_client: Client, kpi: Kpi, typed: str, stored: float
) -> None:
    admin_client.post(url(kpi), {"value": typed, "in": "tile"}, headers=HTMX)
    assert Kpi.objects.get(pk=kpi.pk).current_value == stored


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("99.9%", 99.9),
        ("12k", 12_000.0),
        ("$1.2M", 1_200_000.0),
        ("€42,500", 42_500.0),
        ("(12)", -12.0),
        ("2.5bn", 2.5e9),
    ],
)
def test_a_typed_value_reads_like_a_pulled_one(
    admin_client: Client, kpi: Kpi, typed: str, stored: float
) -> None:
    response = admin_client.post(url(kpi), {"value": typed, "in": "tile"}, headers=HTMX)
    assert response.status_code == 200
    assert Kpi.objects.get(pk=kpi.pk).current_value == parse_number(typed) == stored


def test_yes_is_not_a_number_for_a_number_kpi(admin_client: Client, kpi: Kpi) -> None:
    response = admin_client.post(url(kpi), {"value": "yes", "in": "tile"}, headers=HTMX)
    assert response.status_code == 422
    assert Kpi.objects.get(pk=kpi.pk).current_value is None


def test_the_settings_row_is_swapped_as_a_row(admin_client: Client, kpi: Kpi) -> None:
    body = admin_client.post(url(kpi), {"value": "50", "in": "row"}, headers=HTMX).content.decode()
    assert body.lstrip().startswith(f'<tr id="row-{kpi.pk}"')
    assert 'hx-target="#row-' in body


def test_without_htmx_the_form_posts_and_redirects_with_a_message(
    admin_client: Client, kpi: Kpi
) -> None:
    response = admin_client.post(url(kpi), {"value": "40"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("web:home")
    assert "Saved the value of NPS" in response.content.decode()
    response = admin_client.post(url(kpi), {"value": "forty", "in": "row"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("web:settings-kpis")
    assert "Nothing was saved" in response.content.decode()
    assert Kpi.objects.get(pk=kpi.pk).current_value == 40


def test_a_plain_get_goes_back_to_the_page(admin_client: Client, kpi: Kpi) -> None:
    response = admin_client.get(url(kpi) + "?in=row&edit=1")
    assert response.status_code == 302 and response["Location"] == reverse("web:settings-kpis")


def test_a_yes_no_kpi_takes_yes_and_no(admin_client: Client, admin: Membership) -> None:
    kpi = KpiFactory(org=admin.org, unit_type="boolean", threshold=1)
    admin_client.post(url(kpi), {"value": "Yes", "in": "tile"}, headers=HTMX)
    assert Kpi.objects.get(pk=kpi.pk).current_value == 1.0
