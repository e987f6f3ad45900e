"""`GET /kpis/tree`: nested outcomes and drivers, KPIs outside any tree, drafts and other
orgs left out, loops reported, read tokens allowed, a fixed number of queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.api_client import ApiClient
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Any:
    return OrganizationFactory()


@pytest.fixture
def reader(org: Any) -> ApiClient:
    return ApiClient.for_org(org, "read")


def outline(node: dict[str, Any]) -> Any:
    """A tree node as (title, [drivers…]) or just the title when nothing drives it."""
    title = node["kpi"]["title"]
    return (title, [outline(child) for child in node["drivers"]]) if node["drivers"] else title


def test_outcomes_on_top_with_their_drivers_and_the_rest_apart(org: Any, reader: ApiClient) -> None:
    revenue = KpiFactory(org=org, title="Revenue", category="lagging", position=0)
    KpiFactory(org=org, title="Uptime", position=1)
    signups = KpiFactory(org=org, title="Signups", parent=revenue, category="leading", position=2)
    KpiFactory(org=org, title="Trials", parent=signups, position=3)
    KpiFactory(org=org, title="Win rate", parent=revenue, position=4)

    response = reader.get("/kpis/tree")

    assert response.status_code == 200
    body = response.json()
    assert [outline(tree) for tree in body["trees"]] == [
        ("Revenue", [("Signups", ["Trials"]), "Win rate"])
    ]
    assert [kpi["title"] for kpi in body["outside"]] == ["Uptime"]
    assert body["cycles"] == []
    top = body["trees"][0]
    assert top["kpi"]["category"] == "lagging" and top["kpi"]["parent_id"] is None
    assert top["drivers"][0]["kpi"]["category"] == "leading"
    assert top["drivers"][0]["kpi"]["parent_id"] == revenue.pk
    assert top["hidden_drivers"] == 0


def test_a_node_carries_status_value_and_target_as_the_kpi_list_does(
    org: Any, reader: ApiClient
) -> None:
    outcome = KpiFactory(org=org, title="Uptime", unit_type="percentage", threshold=99.9)
    KpiFactory(org=org, title="Deploys", parent=outcome)
    value_record(
        kpi=outcome, value=99.5, observed_at=timezone.now(), source="api", actor=Actor.system("t")
    )

    node = reader.get("/kpis/tree").json()["trees"][0]["kpi"]
    listed = next(kpi for kpi in reader.get("/kpis").json() if kpi["id"] == outcome.pk)

    assert node["status"] == "red" and node["current_value"] == 99.5
    for name in ("title", "status", "formatted_value", "target_phrase", "stale", "change_text"):
        assert node[name] == listed[name], name
    assert node["formatted_value"] == "99.5%" and node["target_phrase"] == "stay above 99.9%"


def test_drafts_are_left_out_and_their_drivers_stand_alone(org: Any) -> None:
    admin = ApiClient.for_org(org, "admin")
    draft = KpiFactory(org=org, title="Draft outcome", published=False)
    driver = KpiFactory(org=org, title="Driver of a draft", parent=draft)
    KpiFactory(org=org, title="Draft driver", parent=driver, published=False)

    body = admin.get("/kpis/tree").json()  # an admin token sees no drafts here either

    assert body["trees"] == []
    assert [kpi["title"] for kpi in body["outside"]] == ["Driver of a draft"]
    assert body["outside"][0]["parent_id"] is None  # its draft parent's id is not shown
    assert "Draft" not in str(body).replace("Driver of a draft", "")


def test_another_orgs_kpis_never_appear(org: Any, reader: ApiClient) -> None:
    mine = KpiFactory(org=org, title="Mine")
    other = OrganizationFactory()
    theirs = KpiFactory(org=other, title="Theirs")
    # Rows written around the services, crossing orgs both ways: still nothing leaks.
    KpiFactory(org=other, title="Their driver of mine", parent=mine)
    KpiFactory(org=org, title="Mine under theirs", parent=theirs)

    body = reader.get("/kpis/tree").json()

    assert body["trees"] == []
    assert [kpi["title"] for kpi in body["outside"]] == ["Mine", "Mine under theirs"]
    assert "Their" not in str(body) and theirs.pk not in str(body)
    assert ApiClient.for_org(other, "read").get("/kpis/tree").json()["outside"][0]["title"] == (
        "Theirs"
    )


def test_a_loop_in_the_data_is_cut_and_reported_not_hung_on(org: Any, reader: ApiClient) -> None:
    first = KpiFactory(org=org, title="A", position=0)
    second = KpiFactory(org=org, title="B", parent=first, position=1)
    # Closing the loop around the services (they refuse it), as old data could hold it.
    Kpi.objects.filter(pk=first.pk).update(parent=second)

    body = reader.get("/kpis/tree").json()

    assert [outline(tree) for tree in body["trees"]] == [("A", ["B"])]
    assert body["cycles"] == [[first.pk, second.pk]]
    assert body["trees"][0]["kpi"]["parent_id"] is None  # cut above A, so A is an outcome


def test_an_empty_org_has_an_empty_forest(reader: ApiClient) -> None:
    assert reader.get("/kpis/tree").json() == {"trees": [], "outside": [], "cycles": []}


def test_without_a_token_it_is_401() -> None:
    assert ApiClient(None).get("/kpis/tree").status_code == 401


def test_tree_is_not_read_as_a_kpi_id(org: Any, reader: ApiClient) -> None:
    # Registered before /kpis/{id}: "tree" is never looked up as a KPI.
    response = reader.get("/kpis/tree")
    assert response.status_code == 200 and "trees" in response.json()


def build_org_with(count: int) -> tuple[Any, ApiClient]:
    org = OrganizationFactory()
    outcomes = [KpiFactory(org=org, title=f"Outcome {i}") for i in range(max(1, count // 10))]
    for i in range(count - len(outcomes)):
        KpiFactory(org=org, title=f"Driver {i}", parent=outcomes[i % len(outcomes)])
    return org, ApiClient.for_org(org, "read")


def test_a_fixed_number_of_queries_whatever_the_number_of_kpis(
    django_assert_num_queries: Any,
) -> None:
    counted = {}
    for count in (3, 30):
        _, reader = build_org_with(count)
        reader.get("/kpis")  # a token's first use also records its last_used_at
        with CaptureQueriesContext(connection) as queries:
            body = reader.get("/kpis/tree").json()
        assert sum(1 + len(tree["drivers"]) for tree in body["trees"]) == count
        counted[count] = len(queries)
    # The token, the KPIs with their sources, one probe of history
    # for the one compare period, and what the KPI cards read beside: a handful.
    assert counted[3] <= 7
    with django_assert_num_queries(counted[3]):
        reader.get("/kpis/tree")  # the 30 KPIs again, through pytest-django's own counter
    assert counted[30] == counted[3]
