"""KPI tree API: `GET /kpis/tree` (DESIGN §13); registered before `/kpis/{id}`.

The published KPIs of the caller's org as the forest of ``indicators/tree.py``:
outcomes with the KPIs that drive them nested below, KPIs outside any tree apart,
and any parent chain that loops reported as cut. Drafts never appear, for admin
tokens neither: the tree is what members see. Each node carries the KPI's card
fields (built by ``kpi_cards``, like ``GET /kpis``), so the whole answer costs a
fixed number of queries whatever the number of KPIs.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema

from pulseboard.core import clock
from pulseboard.core.api_errors import ERRORS
from pulseboard.indicators.schemas import CategoryName, StatusName
from pulseboard.indicators.selectors import KpiCard, kpi_cards, kpi_list
from pulseboard.indicators.tree import MAX_DEPTH, Node, forest
from pulseboard.orgs.api_auth import principal

router = Router(tags=["KPIs"])


class TreeKpiOut(Schema):
    """A KPI as a tree node shows it; ``GET /kpis/{id}`` reads the whole KPI."""

    id: str
    title: str
    category: CategoryName | None = Field(description="leading, lagging or null")
    parent_id: str | None = Field(
        description="the KPI it drives in this tree: the node above it (null for an outcome "
        "and for a KPI outside any tree, also when its parent is a draft)"
    )
    position: int
    status: StatusName
    current_value: float | None
    observed_at: datetime | None
    formatted_value: str
    target_phrase: str
    change_text: str
    stale: bool
    source_failing: bool

    @classmethod
    def from_card(cls, card: KpiCard) -> TreeKpiOut:
        kpi = card.kpi
        return cls(
            id=kpi.pk,
            title=kpi.title,
            category=kpi.category or None,
            parent_id=None,  # set by the node above: a draft or foreign parent never shows
            position=kpi.position,
            status=card.status,
            current_value=kpi.current_value,
            observed_at=kpi.observed_at,
            formatted_value=card.formatted_value,
            target_phrase=card.target_phrase,
            change_text=card.change_text,
            stale=card.stale,
            source_failing=card.source_failing,
        )


class TreeNodeOut(Schema):
    kpi: TreeKpiOut
    drivers: list[TreeNodeOut] = Field(description="the KPIs that drive this one, in Home order")
    hidden_drivers: int = Field(
        description="KPIs below this node not nested here because the tree is deeper than "
        f"the depth limit ({MAX_DEPTH} levels); 0 almost always"
    )


class KpiTreeOut(Schema):
    trees: list[TreeNodeOut] = Field(description="one per outcome, in Home order")
    outside: list[TreeKpiOut] = Field(description="KPIs that drive nothing and have no drivers")
    cycles: list[list[str]] = Field(
        description="parent chains that loop (the API refuses them; older data may hold one): "
        "the ids along each loop, cut above the first, which is shown as an outcome"
    )


def _node(node: Node, cards: dict[str, TreeKpiOut], parent_id: str | None) -> TreeNodeOut:
    return TreeNodeOut(
        kpi=cards[node.id].model_copy(update={"parent_id": parent_id}),
        drivers=[_node(child, cards, node.id) for child in node.drivers],
        hidden_drivers=node.hidden,
    )


@router.get(
    "/kpis/tree",
    response={200: KpiTreeOut, **ERRORS},
    operation_id="kpi_tree",
    url_name="kpi-tree",
    summary="The KPI tree: outcomes with the KPIs that drive them, and the KPIs outside any tree",
)
def kpi_tree_endpoint(request: HttpRequest) -> KpiTreeOut:
    caller = principal(request)
    kpis = list(kpi_list(org=caller.org))
    cards = {
        card.kpi.pk: TreeKpiOut.from_card(card)
        for card in kpi_cards(org=caller.org, kpis=kpis, now=clock.now(), sparklines=False)
    }
    result = forest((kpi.pk, kpi.parent_id) for kpi in kpis)
    return KpiTreeOut(
        trees=[_node(tree, cards, None) for tree in result.trees],
        outside=[cards[kpi_id] for kpi_id in result.outside],
        cycles=[list(members) for members in result.cycles],
    )
