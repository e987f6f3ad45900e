"""Audit log page: newest first, filters by KPI, actor, action and dates, paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.web.views import audit

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def events(admin: Membership) -> dict[str, Kpi]:
    nps = KpiFactory(org=admin.org, title="NPS")
    churn = KpiFactory(org=admin.org, title="Churn")
    with time_machine.travel(DAY, tick=False):
        value_record(
            kpi=nps, value=40, observed_at=None, source="manual", actor=Actor.for_user(admin.user)
        )
    with time_machine.travel(DAY + timedelta(days=2), tick=False):
        value_record(
            kpi=churn, value=2, observed_at=None, source="api", actor=Actor.system("importer")
        )
    other = MembershipFactory(role="admin")
    foreign = KpiFactory(org=other.org, title="Foreign KPI")
    value_record(kpi=foreign, value=1, observed_at=None, source="manual", actor=Actor.system())
    return {"nps": nps, "churn": churn}


def rows(client: Client, query: str = "") -> list[str]:
    body = client.get(reverse("web:audit") + query).content.decode()
    table = body.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in body else ""
    return [part for part in table.split("<tr>")[1:]]


def test_events_of_this_org_only_newest_first(admin_client: Client, events: dict[str, Kpi]) -> None:
    found = rows(admin_client)
    assert len(found) == 2
    assert "Churn" in found[0] and "NPS" in found[1]
    assert not any("Foreign KPI" in row for row in found)


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("?kpi={nps}", ["NPS"]),
        ("?actor=importer", ["Churn"]),
        ("?action=value.recorded", ["Churn", "NPS"]),
        ("?action=kpi.deleted", []),
        ("?since=2026-03-11", ["Churn"]),
        ("?until=2026-03-10", ["NPS"]),
        ("?since=2026-03-10&until=2026-03-12", ["Churn", "NPS"]),
    ],
)
def test_filters_narrow_the_events(
    admin_client: Client, events: dict[str, Kpi], query: str, titles: list[str]
) -> None:
    found = rows(admin_client, query.format(nps=events["nps"].pk))
    assert [("Churn" if "Churn" in row else "NPS") for row in found] == titles


@pytest.mark.parametrize(
    "query", ["?since=yesterday", "?since=2026-03-12&until=2026-03-10", "?kpi=nope"]
)
def test_bad_filters_show_an_error_not_a_500(
    admin_client: Client, events: dict[str, Kpi], query: str
) -> None:
    response = admin_client.get(reverse("web:audit") + query)
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()


def test_the_log_pages_and_keeps_its_filters(
    admin_client: Client, admin: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    kpi = KpiFactory(org=admin.org)
    for value in range(5):
        value_record(kpi=kpi, value=value, observed_at=None, source="manual", actor=Actor.system())
    body = admin_client.get(reverse("web:audit") + "?action=value.recorded").content.decode()
    assert "Page 1 of 3" in body and "action=value.recorded&amp;page=2" in body
    assert len(rows(admin_client, "?action=value.recorded&page=3")) == 1
