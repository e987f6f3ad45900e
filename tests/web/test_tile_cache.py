"""The tile cache (web/tiles.py): an unchanged tile is a lookup; every change shows at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.connectors.models import Source
from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.annotations import annotation_add
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.targets_services import kpi_targets_replace
from pulseboard.orgs.models import Membership
from pulseboard.orgs.services import org_update
from pulseboard.orgs.teams import team_create
from pulseboard.web.tiles import tile_cache_clear, tiles_for

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def _cold() -> None:
    tile_cache_clear()


def record(kpi: Kpi, value: float) -> None:
    value_record(kpi=kpi, value=value, observed_at=None, source="manual", actor=ACTOR)


def tile_html(client: Client, kpi: Kpi) -> str:
    page = client.get(reverse("web:home")).content.decode()
    start = page.index(f'id="tile-{kpi.pk}"')
    return page[start : page.index("</li>", start)]


def test_an_unchanged_home_builds_no_tile_again(member_client: Client, member: Membership) -> None:
    for _ in range(3):
        record(KpiFactory(org=member.org), 12)
    with CaptureQueriesContext(connection) as cold:
        first = member_client.get(reverse("web:home")).content.decode()
    with CaptureQueriesContext(connection) as warm:
        second = member_client.get(reverse("web:home")).content.decode()
    # The "one period ago" values and the targets over time are read only for a tile built.
    assert len(warm) < len(cold)
    assert first.count('class="tile ') == second.count('class="tile ') == 3


def test_a_new_value_and_status_show_at_once(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org, shape="stay_above", threshold=10.0)
    record(kpi, 12)
    before = tile_html(member_client, kpi)
    assert "On track" in before
    record(kpi, 7.25)
    after = tile_html(member_client, kpi)
    assert "Off track" in after and "7.3" in after.split('class="tile-value"', 1)[1]


def test_a_new_owner_shows_at_once(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    record(kpi, 12)
    assert "Owner:" not in tile_html(member_client, kpi)
    kpi.owner = member.user
    kpi.save(update_fields=["owner"])
    assert f"Owner: {member.user.display_name}" in tile_html(member_client, kpi)


def test_a_new_annotation_shows_at_once(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    record(kpi, 12)
    assert "tile-note" not in tile_html(member_client, kpi)
    annotation_add(kpi=kpi, actor=ACTOR, text="Deploy of the new cache")
    assert "Deploy of the new cache" in tile_html(member_client, kpi)


def test_a_new_target_shows_at_once(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org, shape="stay_above", threshold=10.0)
    record(kpi, 12)
    assert "On track" in tile_html(member_client, kpi)
    kpi_targets_replace(
        kpi=kpi,
        actor=ACTOR,
        entries=[{"effective_from": clock.now() - timedelta(hours=1), "threshold": 20.0}],
    )
    tile = tile_html(member_client, kpi)
    assert "20" in tile.split('class="tile-target"', 1)[1].split("</p>", 1)[0]


def test_a_failing_source_shows_at_once(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    record(kpi, 12)
    assert "source failing" not in tile_html(member_client, kpi)
    # The pull state lives on the source's row: the KPI's row does not move.
    Source.objects.filter(kpi=kpi).update(kind="https_get", consecutive_failures=2)
    assert "source failing" in tile_html(member_client, kpi)


def test_ages_move_with_the_clock(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    record(kpi, 12)
    now = tile_html(member_client, kpi)
    with time_machine.travel(clock.now() + timedelta(hours=5), tick=False):
        later = tile_html(member_client, kpi)
    assert now != later and "5 h" in later.replace("hours", "h").replace("\xa0", " ")


def test_a_locale_change_shows_at_once(member_client: Client, member: Membership) -> None:
    kpi = KpiFactory(org=member.org)
    record(kpi, 1234.5)
    assert "1,234.5" in tile_html(member_client, kpi)
    org_update(org=member.org, actor=ACTOR, locale="de")
    assert "1.234,5" in tile_html(member_client, kpi)


def test_a_tile_is_never_served_to_another_org() -> None:
    english = OrganizationFactory(locale="en")
    german = OrganizationFactory(locale="de")
    kpi = KpiFactory(org=english)
    record(kpi, 1234.5)
    fresh = Kpi.objects.select_related("source", "owner").get(pk=kpi.pk)
    now = clock.now()
    assert tiles_for(org=english, kpis=[fresh], now=now)[0].card.formatted_value == "1,234.5"
    # Same KPI row, same moment: only the org differs, and the tile is built for it.
    assert tiles_for(org=german, kpis=[fresh], now=now)[0].card.formatted_value == "1.234,5"


def test_each_org_sees_only_its_own_tiles(client: Client) -> None:
    ours, theirs = MembershipFactory(), MembershipFactory()
    mine, foreign = KpiFactory(org=ours.org, title="Ours"), KpiFactory(org=theirs.org)
    record(mine, 1)
    record(foreign, 2)
    client.force_login(theirs.user)
    assert f'id="tile-{foreign.pk}"' in client.get(reverse("web:home")).content.decode()
    client.force_login(ours.user)
    page = client.get(reverse("web:home")).content.decode()
    assert f'id="tile-{mine.pk}"' in page and f'id="tile-{foreign.pk}"' not in page


# --- rendered board tiles (tiles_rendered) ----------------------------------------------------


def tiles_of(page: str) -> str:
    return page[
        page.index('<ul class="tiles">') : page.index("</ul>", page.index('<ul class="tiles">'))
    ]


def test_a_rendered_tile_is_the_markup_the_page_would_render(
    admin_client: Client, admin: Membership
) -> None:
    for value in (3, 12, 40):
        kpi = KpiFactory(org=admin.org, shape="stay_above", threshold=10.0, owner=admin.user)
        record(kpi, value)
    annotation_add(kpi=kpi, text="a <b>bold</b> claim & more", at=clock.now(), actor=ACTOR)
    cold = admin_client.get(reverse("web:home")).content.decode()
    warm = admin_client.get(reverse("web:home")).content.decode()
    assert tiles_of(cold) == tiles_of(warm)
    assert tiles_of(warm).count('class="tile ') == 3
    assert "a &lt;b&gt;bold&lt;/b&gt; claim &amp; more" in tiles_of(warm)


def test_an_owner_renamed_without_touching_the_kpi_shows_at_once(
    member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org, owner=member.user)
    record(kpi, 12)
    tile_html(member_client, kpi)
    member.user.name = "Renamed Owner"
    member.user.save(update_fields=["name"])
    assert "Owner: Renamed Owner" in tile_html(member_client, kpi)


def test_an_admin_and_a_member_each_get_their_own_tile(
    admin_client: Client, member_client: Client, member: Membership
) -> None:
    kpi = KpiFactory(org=member.org)
    record(kpi, 12)
    for _ in range(2):  # cold, then from the cache
        assert "value-button" in tile_html(admin_client, kpi)
        assert "value-button" not in tile_html(member_client, kpi)


def test_a_team_board_shows_a_new_value_at_once(member_client: Client, member: Membership) -> None:
    team = team_create(org=member.org, actor=ACTOR, name="Growth")
    kpi = KpiFactory(org=member.org, team=team, shape="stay_above", threshold=10.0)
    record(kpi, 12)
    url = reverse("web:team-board", args=[team.slug])
    assert "On track" in tiles_of(member_client.get(url).content.decode())
    record(kpi, 7)
    assert "Off track" in tiles_of(member_client.get(url).content.decode())
