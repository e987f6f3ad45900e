"""Tiles: the owner, "since <day>" of the current status (org zone and locale), the newest note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.annotations import annotation_add
from pulseboard.orgs.models import Membership
from pulseboard.web.tiles import tiles_for

pytestmark = pytest.mark.django_db


def test_since_is_the_day_in_the_org_zone_and_locale(member: Membership) -> None:
    org = member.org
    org.locale, org.timezone = "en_GB", "Pacific/Auckland"
    org.save()
    # 20:00 UTC on 2 Dec is already 3 Dec in Auckland.
    kpi = KpiFactory(org=org, status="red", status_since=datetime(2026, 12, 2, 20, tzinfo=UTC))
    now = datetime(2026, 12, 10, tzinfo=UTC)
    (tile,) = tiles_for(org=org, kpis=[kpi], now=now)
    assert tile.status_since_text == "since 3 Dec"


def test_since_names_the_year_when_it_is_not_this_one(member: Membership) -> None:
    kpi = KpiFactory(org=member.org, status="red", status_since=datetime(2025, 12, 3, tzinfo=UTC))
    (tile,) = tiles_for(org=member.org, kpis=[kpi], now=datetime(2026, 1, 5, tzinfo=UTC))
    assert tile.status_since_text == "since Dec 3, 2025"


def test_no_since_before_the_first_status(member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    (tile,) = tiles_for(org=member.org, kpis=[kpi], now=datetime(2026, 1, 5, tzinfo=UTC))
    assert tile.status_since_text == ""


def test_home_and_detail_show_owner_and_since(member_client: Client, member: Membership) -> None:
    member.user.name = "Ada Lovelace"
    member.user.save()
    kpi = KpiFactory(
        org=member.org,
        title="Churn",
        status="red",
        status_since=datetime(2026, 3, 3, 12, tzinfo=UTC),
        owner=member.user,
    )
    with time_machine.travel(datetime(2026, 6, 1, tzinfo=UTC)):
        home = member_client.get(reverse("web:home")).content.decode()
        detail = member_client.get(reverse("web:kpi-detail", args=[kpi.pk])).content.decode()
    for page in (home, detail):
        assert "Owner: Ada Lovelace" in page
        assert "since Mar 3" in page


def test_home_tile_shows_the_newest_note_inside_the_compare_period(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, title="Churn", compare_period="7d")
    other = KpiFactory(org=member.org, title="NPS", compare_period="7d")
    now = clock.now()
    actor = Actor.for_user(member.user)
    annotation_add(kpi=kpi, actor=actor, text="Older note", at=now - timedelta(days=2))
    annotation_add(kpi=kpi, actor=actor, text="Price change in EU", at=now - timedelta(days=1))
    annotation_add(kpi=other, actor=actor, text="Too old to show", at=now - timedelta(days=9))
    page = member_client.get(reverse("web:home")).content.decode()
    assert "Price change in EU" in page
    assert "Older note" not in page
    assert "Too old to show" not in page
