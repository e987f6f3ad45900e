"""Home page: login required, org-scoped, published KPIs in order, constant queries."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import PASSWORD, KpiFactory, MembershipFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record

pytestmark = pytest.mark.django_db


def _login(client: Client, membership) -> None:  # type: ignore[no-untyped-def]
    assert client.login(username=membership.user.email, password=PASSWORD)


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get(reverse("web:home"))
    assert response.status_code == 302
    assert reverse("web:login") in response["Location"]


def test_home_shows_published_kpis_of_own_org_only(client: Client) -> None:
    member = MembershipFactory()
    mine = KpiFactory(
        org=member.org,
        title="Our uptime",
        shape="stay_above",
        threshold=99.9,
        unit_type="percentage",
        display_format="decimal_1",
    )
    value_record(kpi=mine, value=99.95, observed_at=None, source="manual", actor=Actor.system())
    KpiFactory(org=member.org, title="Secret draft", published=False)
    KpiFactory(title="Other org KPI")
    _login(client, member)
    page = client.get(reverse("web:home")).content.decode()
    assert "Our uptime" in page and "stay above 99.9%" in page
    assert "On track" in page  # status in text, never colour alone
    assert "Secret draft" not in page
    assert "Other org KPI" not in page


def test_empty_home_tells_admin_to_create_first_kpi(client: Client) -> None:
    admin = MembershipFactory(role="admin")
    _login(client, admin)
    assert "Create your first KPI" in client.get(reverse("web:home")).content.decode()


def test_home_query_count_does_not_grow_with_kpis(
    client: Client, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    member = MembershipFactory()
    _login(client, member)
    for _ in range(2):
        KpiFactory(org=member.org)
    client.get(reverse("web:home"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("web:home"))
    for _ in range(10):
        KpiFactory(org=member.org)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("web:home"))
    assert len(many) == len(few)
