"""The KPI forest (pure): outcomes, drivers, KPIs outside any tree, loops cut, depth cut."""

from __future__ import annotations

import pytest

from pulseboard.indicators.tree import MAX_DEPTH, Forest, Node, forest, ids_in


def shape(node: Node) -> object:
    """A node as nested tuples, easy to compare: (id, [drivers…]) or (id, hidden=N)."""
    if node.hidden:
        return (node.id, f"+{node.hidden}")
    return (node.id, [shape(child) for child in node.drivers]) if node.drivers else node.id


def test_outcomes_on_top_drivers_below_in_input_order() -> None:
    result = forest(
        [
            ("revenue", None),
            ("signups", "revenue"),
            ("nps", None),
            ("trials", "signups"),
            ("conversion", "revenue"),
            ("visits", "trials"),
            ("uptime", None),
        ]
    )
    assert [shape(tree) for tree in result.trees] == [
        ("revenue", [("signups", [("trials", ["visits"])]), "conversion"])
    ]
    assert result.outside == ("nps", "uptime")
    assert result.cycles == () and result.cut == ()


def test_a_parent_not_given_makes_an_outcome_or_an_outside_kpi() -> None:
    # "draft" is not among the pairs (unpublished, deleted, another org's): its drivers
    # stand on their own.
    result = forest([("a", "draft"), ("b", "a"), ("c", "draft")])
    assert [shape(tree) for tree in result.trees] == [("a", ["b"])]
    assert result.outside == ("c",)


def test_several_trees_keep_the_order_of_their_outcomes() -> None:
    result = forest([("z", "y"), ("y", None), ("b", "a"), ("a", None), ("x", "y")])
    assert [tree.id for tree in result.trees] == ["y", "a"]
    assert [shape(tree) for tree in result.trees] == [("y", ["z", "x"]), ("a", ["b"])]


def test_every_kpi_appears_exactly_once() -> None:
    pairs = [(f"k{i}", f"k{(i - 1) // 3}" if i else None) for i in range(30)]
    pairs += [("alone", None)]
    result = forest(pairs)
    seen = [kpi_id for tree in result.trees for kpi_id in ids_in(tree)] + list(result.outside)
    assert sorted(seen) == sorted(kpi_id for kpi_id, _ in pairs)


def test_nothing_given_is_an_empty_forest() -> None:
    assert forest([]) == Forest(trees=(), outside=())


def test_a_loop_is_cut_above_its_first_member_and_reported() -> None:
    # b drives c, c drives d, d drives b: a loop; e drives c from outside the loop.
    result = forest([("a", None), ("b", "d"), ("c", "b"), ("d", "c"), ("e", "c")])
    assert result.cycles == (("b", "d", "c"),)
    assert [shape(tree) for tree in result.trees] == [("b", [("c", ["d", "e"])])]
    assert result.outside == ("a",)


def test_a_kpi_that_drives_itself_is_a_loop_of_one() -> None:
    result = forest([("a", "a"), ("b", "a")])
    assert result.cycles == (("a",),)
    assert [shape(tree) for tree in result.trees] == [("a", ["b"])]


def test_a_loop_alone_becomes_an_outside_kpi_when_it_is_of_one() -> None:
    result = forest([("a", "a")])
    assert result.cycles == (("a",),) and result.outside == ("a",) and result.trees == ()


def test_two_loops_are_both_cut_and_nothing_hangs() -> None:
    pairs = [("a", "b"), ("b", "a"), ("c", "d"), ("d", "e"), ("e", "c"), ("f", "e")]
    result = forest(pairs)
    assert result.cycles == (("a", "b"), ("c", "d", "e"))
    assert [shape(tree) for tree in result.trees] == [
        ("a", ["b"]),
        ("c", [("e", ["d", "f"])]),
    ]


def test_a_chain_deeper_than_the_limit_is_cut_and_counted() -> None:
    pairs = [("k0", None)] + [(f"k{i}", f"k{i - 1}") for i in range(1, 12)]
    result = forest(pairs, max_depth=4)
    (tree,) = result.trees
    assert shape(tree) == ("k0", [("k1", [("k2", [("k3", "+8")])])])
    assert result.cut == ("k3",)


def test_a_very_deep_chain_neither_recurses_too_far_nor_hangs() -> None:
    pairs = [("k0", None)] + [(f"k{i}", f"k{i - 1}") for i in range(1, 5000)]
    pairs[0] = ("k0", "k4999")  # and the whole chain is one loop
    result = forest(pairs)
    (tree,) = result.trees
    assert len(result.cycles) == 1 and len(result.cycles[0]) == 5000
    assert len(ids_in(tree)) == MAX_DEPTH
    assert result.cut == (f"k{MAX_DEPTH - 1}",)


def test_the_limit_only_cuts_nodes_that_have_drivers() -> None:
    result = forest([("a", None), ("b", "a")], max_depth=2)
    assert [shape(tree) for tree in result.trees] == [("a", ["b"])] and result.cut == ()


def test_a_repeated_id_keeps_its_first_place() -> None:
    result = forest([("a", None), ("b", "a"), ("a", "b")])
    assert [shape(tree) for tree in result.trees] == [("a", ["b"])] and result.cycles == ()


def test_the_depth_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        forest([("a", None)], max_depth=0)
