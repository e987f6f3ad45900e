"""Table checksums: order-independent, engine-independent, and sensitive to any change."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.maintenance.checksum import UnsupportedValue, json_text, table_digest, token

BERLIN_SUMMER = timezone(timedelta(hours=2))

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.datetimes(timezones=st.just(UTC)),
)
rows = st.lists(st.tuples(values, values), max_size=30)


@settings(max_examples=200, deadline=None)
@given(rows, st.randoms())
def test_digest_does_not_depend_on_row_order(
    table: list[tuple[object, object]], rnd: random.Random
) -> None:
    shuffled = list(table)
    rnd.shuffle(shuffled)
    assert table_digest(shuffled) == table_digest(table)


@settings(max_examples=200, deadline=None)
@given(rows, st.tuples(values, values))
def test_digest_changes_when_a_row_is_added_even_a_duplicate(
    table: list[tuple[object, object]], extra: tuple[object, object]
) -> None:
    before = table_digest(table)
    after = table_digest([*table, extra])
    assert after.rows == before.rows + 1
    assert after.digest != before.digest


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1.0, 1.0000000000000002),
        ("a", "A"),
        (True, 1),
        (False, 0),
        (None, ""),
        (None, "N"),
        ("", "s0:"),
        (0.1, Decimal("0.1")),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        (date(2024, 1, 1), datetime(2024, 1, 1, tzinfo=UTC)),
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, '{"#": "1"}'),
        (b"\x00", "00"),
    ],
)
def test_different_values_have_different_tokens(left: object, right: object) -> None:
    assert token(left) != token(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # SQLite and PostgreSQL hand the same instant back in different zones.
        (datetime(2024, 6, 1, 12, tzinfo=UTC), datetime(2024, 6, 1, 14, tzinfo=BERLIN_SUMMER)),
        # jsonb keeps numbers as numeric: 1e16 may come back as an int, 1.0 as 1.0.
        ({"n": 1e16}, {"n": 10_000_000_000_000_000}),
        ({"n": 1.0, "m": 0.1}, {"m": Decimal("0.1"), "n": 1}),
        (
            {"b": [1, {"y": None, "x": "é"}], "a": True},
            {"a": True, "b": [1, {"x": "é", "y": None}]},
        ),
        (Decimal("1.50"), Decimal("1.5")),
        (memoryview(b"ab"), b"ab"),
        (UUID(int=7), UUID("00000000-0000-0000-0000-000000000007")),
    ],
)
def test_same_data_in_either_engines_representation_has_one_token(
    left: object, right: object
) -> None:
    assert token(left) == token(right)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("a\x1fb",), ("a", "b")),
        (("ab", "c"), ("a", "bc")),
        (("s1:a",), ("a",)),
    ],
)
def test_rows_whose_joined_text_looks_alike_still_differ(
    first: tuple[str, ...], second: tuple[str, ...]
) -> None:
    assert table_digest([first]) != table_digest([second])


def test_empty_table_has_zero_rows_and_zero_digest() -> None:
    digest = table_digest([])
    assert digest.rows == 0 and digest.digest == "0" * 64


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (time(1, 2, 3), "t01:02:03.000000"),
        (timedelta(days=1, microseconds=5), "r86400000005"),
        (date(2020, 2, 29), "D2020-02-29"),
        (datetime(2020, 2, 29, 1, 2, 3), "d2020-02-29T01:02:03.000000"),
        (Decimal("NaN"), "nNaN"),
        (float("inf"), "finf"),
    ],
)
def test_rarer_column_types_have_fixed_tokens(value: object, expected: str) -> None:
    assert token(value) == expected


def test_json_text_sorts_keys_and_spells_numbers_by_value() -> None:
    assert json_text({"b": 2.0, "a": [1e16]}) == json_text({"a": [10**16], "b": 2})


@pytest.mark.parametrize("value", [object(), {1, 2}, {"a": object()}])
def test_value_without_canonical_form_is_rejected(value: object) -> None:
    with pytest.raises(UnsupportedValue):
        token(value)
