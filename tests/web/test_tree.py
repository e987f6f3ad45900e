"""The KPI tree page: outcomes over their drivers, KPIs outside any tree apart, status in words,
drafts and other orgs left out, loops reported, a fixed number of queries. The phone's width is
checked in a real browser in test_browser_tree.py."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from tests.factories import KpiFactory, MembershipFactory, OrganizationFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.services import kpi_spec, kpi_update
from pulseboard.orgs.models import Membership
from pulseboard.web.tiles import tile_cache_clear

pytestmark = pytest.mark.django_db
TREE = reverse("web:tree")


class Outline(HTMLParser):
    """The page's trees as (title, [drivers…]) and the titles listed outside any tree."""

    def __init__(self) -> None:
        super().__init__()
        self.trees: list[Any] = []
        self.outside: list[str] = []
        self.stack: list[list[Any]] = []  # open tree items: [title, drivers]
        self.depth = 0  # <li> nesting, to close the right tree item
        self.item_depths: list[int] = []
        self.section = ""
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "section":
            self.section = "outside" if "tree-outside" in classes else "trees"
        if tag == "li":
            self.depth += 1
            if "tree-item" in classes and self.section == "trees":
                self.stack.append(["", []])
                self.item_depths.append(self.depth)
        if tag == "a" and "tree-node-title" in classes:
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self.in_title = False
        if tag == "li":
            if self.item_depths and self.item_depths[-1] == self.depth:
                self.item_depths.pop()
                title, drivers = self.stack.pop()
                node = (title, drivers) if drivers else title
                (self.stack[-1][1] if self.stack else self.trees).append(node)
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.in_title:
            return
        if self.section == "outside":
            self.outside.append(data.strip())
        elif self.stack:
            self.stack[-1][0] += data.strip()


def outline(client: Client) -> Outline:
    response = client.get(TREE)
    assert response.status_code == 200
    parsed = Outline()
    parsed.feed(response.content.decode())
    return parsed


def record(kpi: Kpi, value: float) -> None:
    value_record(
        kpi=kpi, value=value, observed_at=clock.now(), source="manual", actor=Actor.system()
    )


def test_outcomes_on_top_drivers_below_and_the_rest_apart(
    member_client: Client, member: Membership
) -> None:
    org = member.org
    revenue = KpiFactory(org=org, title="Revenue", category="lagging")
    KpiFactory(org=org, title="Uptime")
    signups = KpiFactory(org=org, title="Signups", parent=revenue, category="leading")
    KpiFactory(org=org, title="Trials", parent=signups)
    KpiFactory(org=org, title="Win rate", parent=revenue)

    page = outline(member_client)

    assert page.trees == [("Revenue", [("Signups", ["Trials"]), "Win rate"])]
    assert page.outside == ["Uptime"]


def test_each_node_shows_its_category_status_in_words_and_value(
    member_client: Client, member: Membership
) -> None:
    outcome = KpiFactory(
        org=member.org, title="Uptime", unit_type="percentage", threshold=99.9, category="lagging"
    )
    driver = KpiFactory(org=member.org, title="Deploys", parent=outcome, category="leading")
    record(outcome, 99.5)
    record(driver, 50)

    html = member_client.get(TREE).content.decode()

    node = html[html.index(f'id="node-{outcome.pk}"') : html.index(f'id="node-{driver.pk}"')]
    assert "Lagging" in node and "99.5%" in node and "stay above 99.9%" in node
    assert "Off track" in node and "✖" in node  # the word and the icon, never colour alone
    assert f'href="{reverse("web:kpi-detail", args=[outcome.pk])}"' in node
    rest = html[html.index(f'id="node-{driver.pk}"') :]
    assert "Leading" in rest and "On track" in rest and "✔" in rest


def test_drafts_and_other_orgs_never_appear(admin_client: Client, admin: Membership) -> None:
    draft = KpiFactory(org=admin.org, title="Draft outcome", published=False)
    KpiFactory(org=admin.org, title="Driver of a draft", parent=draft)
    theirs = KpiFactory(org=OrganizationFactory(), title="Their outcome")
    KpiFactory(org=theirs.org, title="Their driver")
    # Written around the services: a KPI of ours under theirs still shows nothing of theirs.
    KpiFactory(org=admin.org, title="Ours under theirs", parent=theirs)

    page = outline(admin_client)  # an admin too: the tree is what members see
    html = admin_client.get(TREE).content.decode()

    assert page.trees == []
    assert page.outside == ["Driver of a draft", "Ours under theirs"]
    assert "Draft outcome" not in html and "Their" not in html


def test_a_loop_is_named_and_the_tree_still_drawn(
    member_client: Client, member: Membership
) -> None:
    first = KpiFactory(org=member.org, title="Alpha")
    second = KpiFactory(org=member.org, title="Beta", parent=first)
    Kpi.objects.filter(pk=first.pk).update(parent=second)  # around the services, which refuse it

    page = outline(member_client)
    html = member_client.get(TREE).content.decode()

    assert page.trees == [("Alpha", ["Beta"])]
    assert "drive each other in a loop" in html and "cut above “Alpha”" in html


def test_no_tree_yet_tells_admins_how_to_build_one(
    admin_client: Client, member_client: Client, admin: Membership
) -> None:
    KpiFactory(org=admin.org, title="Lonely")
    admin_html = admin_client.get(TREE).content.decode()
    member_html = member_client.get(TREE).content.decode()
    assert "No KPI drives another yet" in admin_html and "Drives (parent KPI)" in admin_html
    assert "No KPI drives another yet" in member_html
    assert "Drives (parent KPI)" not in member_html  # members cannot edit KPIs
    assert "Lonely" in member_html


def test_an_empty_org_says_so(member_client: Client) -> None:
    assert "No KPIs yet" in member_client.get(TREE).content.decode()


def test_the_main_navigation_links_the_tree(member_client: Client) -> None:
    html = member_client.get(TREE).content.decode()
    assert f'<a href="{TREE}" aria-current="page">KPI tree</a>' in html


def test_signed_out_goes_to_login(client: Client) -> None:
    response = client.get(TREE)
    assert response.status_code == 302 and reverse("web:login") in response["Location"]


def org_with_tree(count: int) -> Membership:
    membership = MembershipFactory()
    org = membership.org
    outcomes = [KpiFactory(org=org, title=f"Outcome {i}") for i in range(max(1, count // 10))]
    drivers = [
        KpiFactory(org=org, title=f"Driver {i}", parent=outcomes[i % len(outcomes)])
        for i in range(count // 2)
    ]
    for i in range(count - len(outcomes) - len(drivers)):
        KpiFactory(org=org, title=f"Input {i}", parent=drivers[i % len(drivers)])
    return membership


def test_a_fixed_number_of_queries_whatever_the_number_of_kpis(
    django_assert_num_queries: Any,
) -> None:
    counted = {}
    for count in (3, 30):
        membership = org_with_tree(count)
        client = Client()
        client.force_login(membership.user)
        client.get(TREE)  # the first request after a login saves the session once
        tile_cache_clear()  # counted cold: a cached tile turns cold when the minute changes
        with CaptureQueriesContext(connection) as queries:
            response = client.get(TREE)
        assert response.content.decode().count('class="tree-item"') == count
        counted[count] = len(queries)
    # Session, user, memberships, the KPIs with their sources, one probe of history for the
    # one compare period, and what the KPI cards read beside (scheduled targets): a handful.
    assert counted[3] <= 8
    tile_cache_clear()
    with django_assert_num_queries(counted[3]):
        client.get(TREE)  # the 30 KPIs again, through pytest-django's own counter
    assert counted[30] == counted[3]


# --- live like Home (DESIGN §12) -----------------------------------------------------------


def test_the_tree_is_a_live_page_whose_poll_redraws_only_when_something_changed(
    member_client: Client, member: Membership
) -> None:
    org = member.org
    revenue = KpiFactory(org=org, title="Revenue")
    signups = KpiFactory(org=org, title="Signups")
    html = member_client.get(TREE).content.decode()
    live = reverse("web:live-tree")
    assert 'id="live-board"' in html and f'hx-get="{live}"' in html

    first = member_client.get(live)
    assert first.status_code == 200 and first["ETag"]
    body = first.content.decode()
    assert "<html" not in body and 'id="live-board"' in body and "Outside any tree" in body
    assert member_client.get(live, headers={"If-None-Match": first["ETag"]}).status_code == 304

    # A KPI that starts driving another moves updated_at: the next poll redraws the tree.
    spec = replace(kpi_spec(signups), parent_id=revenue.pk)
    kpi_update(kpi=signups, actor=Actor.for_user(member.user), spec=spec)
    changed = member_client.get(live, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    parsed = Outline()
    parsed.feed(changed.content.decode())
    assert parsed.trees == [("Revenue", ["Signups"])]

    record(revenue, 12)
    assert member_client.get(live, headers={"If-None-Match": changed["ETag"]}).status_code == 200


def test_a_poll_of_the_tree_only_reads_the_members_org_and_needs_a_session(
    member_client: Client, member: Membership, client: Client
) -> None:
    KpiFactory(org=member.org, title="Ours")
    KpiFactory(org=OrganizationFactory(), title="Theirs")
    live = reverse("web:live-tree")
    body = member_client.get(live).content.decode()
    assert "Ours" in body and "Theirs" not in body
    signed_out = client.get(live)
    assert signed_out.status_code == 401 and signed_out["HX-Refresh"] == "true"
