"""The TV board: signed in, full screen without navigation, themes, status in words and icons,
the newest value's time, odd options, its poll (304 when unchanged), and the public renderer
used by share links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory, MembershipFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership
from pulseboard.web.tiles import tiles_for
from pulseboard.web.views.tv import render_tv_board

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def record(kpi: Kpi, value: float, at: datetime) -> None:
    value_record(kpi=kpi, value=value, observed_at=at, source="manual", actor=Actor.system())


def test_tv_needs_a_session(db: None) -> None:
    response = Client().get(reverse("web:tv"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_tv_shows_the_orgs_published_kpis_without_navigation(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, title="Uptime", threshold=99.0, unit_type="percentage")
    record(kpi, 98.0, datetime(2026, 3, 4, 13, 5, tzinfo=UTC))
    KpiFactory(org=member.org, title="Hidden draft", published=False)
    KpiFactory(title="Another org's KPI")
    page = member_client.get(reverse("web:tv")).content.decode()
    assert "Uptime" in page and "98.0%" in page
    assert "Hidden draft" not in page and "Another org&#x27;s KPI" not in page
    assert "<nav" not in page and "Log out" not in page and "<a " not in page
    # Status never by colour alone: the word and its icon.
    assert "Off track" in page and "✖" in page
    assert 'data-theme="dark"' in page
    assert "Newest value" in page and 'datetime="2026-03-04T13:05:00+00:00"' in page


def test_newest_value_time_is_in_the_orgs_zone(member_client: Client, member: Membership) -> None:
    member.org.timezone = "Europe/Berlin"
    member.org.save()
    record(KpiFactory(org=member.org), 1.0, datetime(2026, 3, 4, 13, 5, tzinfo=UTC))
    page = member_client.get(reverse("web:tv")).content.decode()
    assert "14:05" in page


@pytest.mark.parametrize(
    ("query", "theme"),
    [("", "dark"), ("?theme=light", "light"), ("?theme=auto", "auto"), ("?theme=<x>", "dark")],
)
def test_themes(member_client: Client, query: str, theme: str) -> None:
    page = member_client.get(reverse("web:tv") + query).content.decode()
    assert f'data-theme="{theme}"' in page
    assert "<x>" not in page


@pytest.mark.parametrize(
    ("query", "every", "rotate"),
    [
        ("", 10, 20),
        ("?every=2&rotate=30", 2, 30),
        ("?every=0&rotate=1", 1, 5),
        ("?every=99999&rotate=99999", 10, 20),
        ("?every=-5&rotate=abc", 10, 20),
        ("?every=%00&rotate=%F0%9F%98%80", 10, 20),
        ("?every=700&rotate=601", 600, 600),
    ],
)
def test_poll_and_rotation_options_are_clamped(
    member_client: Client, query: str, every: int, rotate: int
) -> None:
    response = member_client.get(reverse("web:tv") + query)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'hx-trigger="every {every}s"' in page
    assert f'data-rotate="{rotate}"' in page


def test_tv_poll_is_304_when_unchanged_and_the_board_when_changed(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, title="Orders")
    member_client.get(reverse("web:tv"))  # the session's first request saves its refresh mark
    first = member_client.get(reverse("web:tv-board"), **HTMX)
    assert first.status_code == 200
    body = first.content.decode()
    assert body.lstrip().startswith('<div id="tv-board"') and "<html" not in body
    etag = first["ETag"]
    assert (
        member_client.get(reverse("web:tv-board"), HTTP_IF_NONE_MATCH=etag, **HTMX).status_code
        == 304
    )
    record(kpi, 7.0, datetime.now(UTC))
    fresh = member_client.get(reverse("web:tv-board"), HTTP_IF_NONE_MATCH=etag, **HTMX)
    assert fresh.status_code == 200 and "7.0" in fresh.content.decode()


def test_the_page_and_its_polls_share_one_etag(member_client: Client, member: Membership) -> None:
    KpiFactory(org=member.org)
    member_client.get(reverse("web:tv"))
    page = member_client.get(reverse("web:tv") + "?theme=light&every=3").content.decode()
    poll = member_client.get(reverse("web:tv-board") + "?theme=light&every=3", **HTMX)
    assert poll["ETag"].strip('"') in page
    assert 'hx-get="/tv/board/?theme=light&amp;every=3"' in page


def test_tv_is_the_members_own_org(member_client: Client, member: Membership) -> None:
    other = MembershipFactory()
    KpiFactory(org=other.org, title="Theirs")
    assert b"Theirs" not in member_client.get(reverse("web:tv")).content
    assert b"Theirs" not in member_client.get(reverse("web:tv-board"), **HTMX).content


def test_public_board_leaves_out_source_health(rf: Any, member: Membership) -> None:
    kpi = KpiFactory(org=member.org, title="Public KPI")
    kpi.refresh_from_db()
    tiles = tiles_for(org=member.org, kpis=[kpi], now=datetime.now(UTC))
    object.__setattr__(tiles[0].card, "source_failing", True)
    request = rf.get("/s/token/")
    request.user = member.user
    shown = render_tv_board(
        request,
        org=member.org,
        tiles=tiles,
        title="Shared board",
        poll_url="/s/token/board/",
        etag='"abc"',
        public=True,
    ).render()
    text = shown.content.decode()
    assert "Public KPI" in text and "Shared board" in text
    assert "source failing" not in text
    assert 'hx-get="/s/token/board/"' in text
    signed_in = render_tv_board(
        request, org=member.org, tiles=tiles, title="Board", poll_url="/tv/board/"
    ).render()
    assert "source failing" in signed_in.content.decode()


def test_renderer_answers_an_htmx_poll_with_the_board_alone(rf: Any, member: Membership) -> None:
    request = rf.get("/s/token/board/", HTTP_HX_REQUEST="true")
    request.user = member.user
    text = (
        render_tv_board(request, org=member.org, tiles=[], title="Empty", poll_url="/x/")
        .render()
        .content.decode()
    )
    assert text.lstrip().startswith('<div id="tv-board"')
    assert "No KPIs on this board yet" in text
