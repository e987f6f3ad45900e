"""Switching organization: only to an org the user belongs to; every page follows the choice."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_orgs(admin: Membership) -> tuple[Membership, Membership]:
    second = MembershipFactory(user=admin.user, org=OrganizationFactory(name="Zeta"), role="member")
    KpiFactory(org=admin.org, title="First org KPI")
    KpiFactory(org=second.org, title="Second org KPI")
    return admin, second


def test_a_user_in_several_orgs_gets_a_switcher_and_switches(
    admin_client: Client, two_orgs: tuple[Membership, Membership]
) -> None:
    _, second = two_orgs
    home = admin_client.get(reverse("web:home")).content.decode()
    assert 'id="org-switch"' in home and "First org KPI" in home
    response = admin_client.post(reverse("web:org-switch"), {"org_id": second.org_id}, follow=True)
    body = response.content.decode()
    assert "Second org KPI" in body and "First org KPI" not in body
    # The role follows the org: a member there, so admin pages are closed.
    assert admin_client.get(reverse("web:settings-kpis")).status_code == 403


def test_switching_to_an_org_the_user_is_not_in_changes_nothing(
    admin_client: Client, two_orgs: tuple[Membership, Membership]
) -> None:
    stranger = OrganizationFactory()
    response = admin_client.post(reverse("web:org-switch"), {"org_id": stranger.pk}, follow=True)
    assert "not a member of that organization" in response.content.decode()
    assert "First org KPI" in response.content.decode()
    response = admin_client.post(reverse("web:org-switch"), {"org_id": "x"}, follow=True)
    assert "First org KPI" in response.content.decode()


def test_a_kpi_of_the_org_not_chosen_is_404(
    admin_client: Client, two_orgs: tuple[Membership, Membership]
) -> None:
    _, second = two_orgs
    theirs = Kpi.objects.get(org=second.org)
    assert admin_client.get(reverse("web:kpi-detail", args=[theirs.pk])).status_code == 404
