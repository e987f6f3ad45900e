"""Badges and tile images: the pure SVG builders, and the share routes that serve them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.sharing.services import share_link_create
from pulseboard.web.badges import STATUS_COLOURS, badge_svg, clean_text, tile_svg

SVG = "{http://www.w3.org/2000/svg}"
NOT_FOUND = b"<!doctype html><title>Not found</title><h1>Not found</h1>"
HOSTILE = (
    '<script>alert(1)</script> & "quotes" \x00\x01\x1b ]]> <![CDATA[ \ud800 é 漢字 ' + "x" * 300
)


def _texts(document: str) -> list[str]:
    root = ET.fromstring(document)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def _safe(document: str) -> ET.Element:
    root = ET.fromstring(document)
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "title", "rect", "g", "text", "style", "polygon", "polyline", "path"}
    for element in root.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on") and "href" not in name.lower()
            assert "url(" not in value and "javascript" not in value.lower()
    assert "http" not in document.replace('xmlns="http://www.w3.org/2000/svg"', "")
    return root


def test_badge_has_title_value_status_word_and_status_colour() -> None:
    document = badge_svg(title="Uptime", value="99.95%", status="red", status_word="Off track")
    root = _safe(document)
    assert _texts(document) == ["Uptime", "99.95% · Off track"]
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert STATUS_COLOURS["red"] in fills
    assert root.get("aria-label") == "Uptime: 99.95% · Off track"


def test_tile_has_the_card_and_a_sparkline() -> None:
    points = [(date(2025, 1, d), float(d)) for d in range(1, 10)]
    document = tile_svg(
        title="ARR",
        value="$1.2M",
        status="green",
        status_word="On track",
        target_phrase="trending up from $1.0M",
        change_text="+4.0% vs 7 days ago",
        points=points,
    )
    root = _safe(document)
    assert _texts(document) == [
        "ARR",
        "$1.2M",
        "On track",
        "trending up from $1.0M",
        "+4.0% vs 7 days ago",
    ]
    assert root.find(f".//{SVG}polyline") is not None


def test_tile_without_history_has_no_sparkline() -> None:
    document = tile_svg(
        title="New",
        value="",
        status="unknown",
        status_word="No data",
        target_phrase="",
        change_text="",
        points=[],
    )
    assert ET.fromstring(document).find(f".//{SVG}polyline") is None
    assert _texts(document) == ["New", "—", "No data"]


@given(st.text(), st.text(), st.text())
def test_any_text_gives_a_valid_document_with_escaped_text(
    title: str, value: str, word: str
) -> None:
    for document in (
        badge_svg(title=title, value=value, status="yellow", status_word=word),
        tile_svg(
            title=title,
            value=value,
            status="bogus",
            status_word=word,
            target_phrase=title,
            change_text=value,
            points=[],
        ),
    ):
        _safe(document)
        assert "<script" not in document


def test_hostile_text_is_cleaned_and_shortened() -> None:
    cleaned = clean_text(HOSTILE, 40)
    assert len(cleaned) == 40 and cleaned.endswith("…") and "\x00" not in cleaned
    document = badge_svg(title=HOSTILE, value=HOSTILE, status="green", status_word=HOSTILE)
    _safe(document)
    assert "<script>" not in document and "&lt;script&gt;" in document


# --- the routes ----------------------------------------------------------------------------


@pytest.fixture
def shared(db: None) -> dict[str, Any]:
    org = OrganizationFactory()
    actor = Actor.system("test")
    kpi = KpiFactory(org=org, title='Uptime <script>alert("x")</script>', unit_type="percentage")
    now = timezone.now()
    for days, value in ((3, 98.0), (1, 99.0), (0, 99.5)):
        value_record(
            kpi=kpi, value=value, observed_at=now - timedelta(days=days), source="api", actor=actor
        )
    outside = KpiFactory(org=org)
    draft = KpiFactory(org=org, published=False)
    foreign = KpiFactory(org=OrganizationFactory())
    _, token = share_link_create(org=org, actor=actor, name="Wiki", kpi_ids=[kpi.pk, draft.pk])
    return {"kpi": kpi, "outside": outside, "draft": draft, "foreign": foreign, "token": token}


@pytest.mark.parametrize("suffix", [".svg", "/tile.svg"])
def test_badge_routes_serve_safe_cacheable_frameable_svg(
    shared: dict[str, Any], suffix: str
) -> None:
    response = Client().get(f"/s/{shared['token']}/kpis/{shared['kpi'].pk}{suffix}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Cache-Control"] == "public, max-age=60"
    assert "X-Frame-Options" not in response and response["Referrer-Policy"] == "no-referrer"
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'none'" in csp
    document = response.content.decode()
    _safe(document)
    assert "99.5%" in document and "On track" in document
    assert "<script>" not in document and "&lt;script&gt;" in document
    assert not response.cookies


@pytest.mark.parametrize("which", ["outside", "draft", "foreign"])
@pytest.mark.parametrize("suffix", [".svg", "/tile.svg"])
def test_kpis_the_link_does_not_show_are_the_same_404(
    shared: dict[str, Any], which: str, suffix: str
) -> None:
    response = Client().get(f"/s/{shared['token']}/kpis/{shared[which].pk}{suffix}")
    assert response.status_code == 404 and response.content == NOT_FOUND


@pytest.mark.parametrize(
    "path",
    [
        "/s/{token}/kpis/%00.svg",
        "/s/{token}/kpis/nosuchkpi.svg",
        "/s/{token}/kpis/" + "k" * 3000 + ".svg",
        "/s/{token}/kpis/%FF%FE/tile.svg",
        "/s/{token}/kpis/{kpi}.png",
        "/s/{token}/kpis/{kpi}/tile.svg/extra",
        "/s/pbs_" + "A" * 43 + "/kpis/{kpi}.svg",
        "/s/%00/kpis/{kpi}.svg",
    ],
)
def test_odd_paths_are_the_same_404(shared: dict[str, Any], path: str) -> None:
    url = path.format(token=shared["token"], kpi=shared["kpi"].pk)
    response = Client().get(url)
    assert response.status_code == 404 and response.content == NOT_FOUND


def test_a_rendered_badge_is_reused_briefly_but_revocation_is_immediate(
    shared: dict[str, Any],
) -> None:
    from pulseboard.sharing.models import ShareLink
    from pulseboard.sharing.services import share_link_revoke

    url = f"/s/{shared['token']}/kpis/{shared['kpi'].pk}.svg"
    start = timezone.now()
    client = Client()
    with time_machine.travel(start, tick=False):
        assert "99.5%" in client.get(url).content.decode()
        value_record(
            kpi=shared["kpi"], value=97.0, observed_at=start, source="api", actor=Actor.system()
        )
        assert "99.5%" in client.get(url).content.decode()
    with time_machine.travel(start + timedelta(seconds=11), tick=False):
        assert "97.0%" in client.get(url).content.decode()
        share_link_revoke(link=ShareLink.objects.get(), actor=Actor.system())
        gone = client.get(url)
    assert gone.status_code == 404 and gone.content == NOT_FOUND
