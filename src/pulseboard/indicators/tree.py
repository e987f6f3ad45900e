"""The KPI tree (DESIGN §13) as a forest of ids; pure: no Django, no I/O.

A KPI's ``parent`` is the KPI it drives. ``forest`` takes ``(id, parent_id)``
pairs of the KPIs to show (the published ones, in Home order) and answers:

- **trees**: one per outcome, i.e. a KPI with no parent among the given ones (no
  parent at all, or a parent that is a draft, deleted or otherwise not given)
  that at least one KPI drives; its drivers hang below it, recursively;
- **outside**: KPIs with no parent and no drivers, which belong to no tree;
- **cycles**: parent chains that loop. The services refuse them, but rows written
  around the services (an import, a restored backup) could still hold one, and the
  tree must not hang on it: each loop is cut above its first member in Home
  order, which then stands as an outcome, and the loop is reported;
- **cut**: nodes at the depth limit whose drivers are not expanded (their count is
  on the node), so a very deep chain stays a bounded page.

Order is stable: outcomes, drivers and outside KPIs keep the order of the input
(Home position).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Levels shown, the outcome being level 1. Real KPI trees are 3 to 5 levels deep;
# deeper chains are cut (and reported) rather than drawn off the page.
MAX_DEPTH = 8


@dataclass(frozen=True)
class Node:
    """A KPI in a tree with the KPIs that drive it; ``hidden`` counts those cut below it."""

    id: str
    drivers: tuple[Node, ...] = ()
    hidden: int = 0


@dataclass(frozen=True)
class Forest:
    trees: tuple[Node, ...]
    outside: tuple[str, ...]
    # Each loop as the ids along its parent chain, starting at the member it was cut above.
    cycles: tuple[tuple[str, ...], ...] = ()
    # Ids of nodes at the depth limit whose drivers were not expanded.
    cut: tuple[str, ...] = ()


def _loops(order: list[str], parent_of: dict[str, str | None]) -> list[tuple[str, ...]]:
    """Every loop of the parent chains, each once, starting at its first member in order."""
    done: set[str] = set()
    loops: list[tuple[str, ...]] = []
    for start in order:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = parent_of[node]
        if node is not None and node in on_path:
            loops.append(tuple(path[path.index(node) :]))
        done.update(path)
    position = {kpi_id: index for index, kpi_id in enumerate(order)}
    cut_loops: list[tuple[str, ...]] = []
    for loop in loops:
        first = min(range(len(loop)), key=lambda i: position[loop[i]])
        cut_loops.append(loop[first:] + loop[:first])
    return cut_loops


def forest(pairs: Iterable[tuple[str, str | None]], *, max_depth: int = MAX_DEPTH) -> Forest:
    """The trees, the KPIs outside any tree, the loops cut and the nodes cut at ``max_depth``."""
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    order: list[str] = []
    given: dict[str, str | None] = {}
    for kpi_id, parent_id in pairs:
        if kpi_id not in given:  # a repeated id keeps its first place
            order.append(kpi_id)
            given[kpi_id] = parent_id
    parent_of = {
        kpi_id: parent if parent is not None and parent in given else None
        for kpi_id, parent in given.items()
    }
    cycles = _loops(order, parent_of)
    for members in cycles:
        parent_of[members[0]] = None
    drivers: dict[str, list[str]] = {kpi_id: [] for kpi_id in order}
    for kpi_id in order:
        parent = parent_of[kpi_id]
        if parent is not None:
            drivers[parent].append(kpi_id)

    cut: list[str] = []

    def size(kpi_id: str) -> int:
        # Iterative: a chain far deeper than max_depth must not reach the recursion limit.
        count, stack = 0, list(drivers[kpi_id])
        while stack:
            count += 1
            stack.extend(drivers[stack.pop()])
        return count

    def build(kpi_id: str, depth: int) -> Node:
        below = drivers[kpi_id]
        if below and depth >= max_depth:
            cut.append(kpi_id)
            return Node(id=kpi_id, hidden=size(kpi_id))
        return Node(id=kpi_id, drivers=tuple(build(child, depth + 1) for child in below))

    roots = [kpi_id for kpi_id in order if parent_of[kpi_id] is None]
    return Forest(
        trees=tuple(build(root, 1) for root in roots if drivers[root]),
        outside=tuple(root for root in roots if not drivers[root]),
        cycles=tuple(cycles),
        cut=tuple(cut),
    )


def ids_in(node: Node) -> list[str]:
    """The ids of a tree, the outcome first, depth first in order."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current.id)
        stack.extend(reversed(current.drivers))
    return found
