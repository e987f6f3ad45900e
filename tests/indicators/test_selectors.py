"""Board KPIs come without their sparkline rollup; cards read it for all of them in one query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.factories import KpiFactory, OrganizationFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.selectors import kpi_cards, kpi_list, kpi_list_for_home

pytestmark = pytest.mark.django_db


def test_cards_from_a_board_list_have_the_same_sparklines_in_one_extra_query() -> None:
    org = OrganizationFactory()
    kpis = [KpiFactory(org=org, published=True) for _ in range(3)]
    now = clock.now()
    for index, kpi in enumerate(kpis):
        for day in range(3):
            value_record(
                kpi=kpi,
                value=10 * index + day,
                observed_at=now - timedelta(days=3 - day),
                source="manual",
                actor=Actor.system("test"),
            )
    board = list(kpi_list_for_home(org=org))
    assert all("sparkline" in kpi.get_deferred_fields() for kpi in board)
    full = list(kpi_list(org=org))
    expected = [card.sparkline for card in kpi_cards(org=org, kpis=full, now=now)]
    assert all(expected)  # every KPI has points: the comparison below means something
    with CaptureQueriesContext(connection) as deferred_queries:
        cards = kpi_cards(org=org, kpis=board, now=now)
    with CaptureQueriesContext(connection) as full_queries:
        kpi_cards(org=org, kpis=full, now=now)
    assert [card.sparkline for card in cards] == expected
    assert len(deferred_queries) == len(full_queries) + 1
    assert all("sparkline" not in kpi.get_deferred_fields() for kpi in board)


def test_cards_without_sparklines_never_read_the_rollup() -> None:
    org = OrganizationFactory()
    KpiFactory(org=org, published=True)
    board = list(kpi_list_for_home(org=org))
    with CaptureQueriesContext(connection) as queries:
        cards = kpi_cards(org=org, kpis=board, now=clock.now(), sparklines=False)
    assert cards[0].sparkline == []
    assert not any("sparkline" in query["sql"] for query in queries)
