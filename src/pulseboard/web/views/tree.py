"""The KPI tree page (``/tree/``, DESIGN §13): outcomes on top, the KPIs that drive them below.

Every published KPI of the member's org, arranged by ``indicators/tree.py``'s
``forest`` and drawn as nested lists; KPIs outside any tree are listed apart.
Each node is a ``Tile`` (``web/tiles.py``, without sparkline), so its status
words, icon and formatted value read as on Home, in the same fixed number of
queries whatever the number of KPIs.

The page is live like Home (``web/live.py``): its board is polled with the org
board's change stamp (every KPI write, a new ``parent`` included, moves
``updated_at``), and the ``/live/tree/`` route answers 304 or just the board.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from pulseboard.core import clock
from pulseboard.indicators.selectors import kpi_list
from pulseboard.indicators.tree import MAX_DEPTH, Node, forest
from pulseboard.web.access import MemberRequest, member_view
from pulseboard.web.live import Board, board_stamp, live_page
from pulseboard.web.tiles import Tile, tiles_for

TREE_BOARD = Board(kind="tree", stamp=lambda org: board_stamp(org), poll_route="web:live-tree")


@dataclass(frozen=True)
class Branch:
    """A node of the drawn tree: a KPI's tile and the branches of the KPIs that drive it."""

    tile: Tile
    drivers: list[Branch] = field(default_factory=list)
    hidden: int = 0  # KPIs below the depth limit, not drawn


def _branch(node: Node, tiles: dict[str, Tile]) -> Branch:
    return Branch(
        tile=tiles[node.id],
        drivers=[_branch(child, tiles) for child in node.drivers],
        hidden=node.hidden,
    )


@member_view
@require_GET
@live_page(TREE_BOARD)
def tree(request: MemberRequest) -> HttpResponse:
    org = request.org
    kpis = list(kpi_list(org=org))
    tiles = {
        tile.kpi.pk: tile
        for tile in tiles_for(org=org, kpis=kpis, now=clock.now(), sparklines=False, notes=False)
    }
    result = forest((kpi.pk, kpi.parent_id) for kpi in kpis)
    context = {
        "trees": [_branch(node, tiles) for node in result.trees],
        "outside": [tiles[kpi_id] for kpi_id in result.outside],
        # Each loop as its KPIs' titles, closing on the first: "A → B → A".
        "loops": [[tiles[kpi_id].kpi for kpi_id in (*loop, loop[0])] for loop in result.cycles],
        "max_depth": MAX_DEPTH,
    }
    # A TemplateResponse, so the live poll can render only the board partial.
    return TemplateResponse(request, "web/tree.html", context)
