"""Pull values: numeric text, JSON bodies and RFC 9535 JSONPath extraction."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.connectors.values import (
    MAX_JSON_DEPTH,
    ValueParseError,
    extract_jsonpath,
    parse_json_body,
    parse_number,
    validate_jsonpath,
)
from pulseboard.indicators.numbers import NumberTextError, parse_number_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, 12.0),
        (-3, -3.0),
        (12.5, 12.5),
        (True, 1.0),
        (False, 0.0),
        ("42", 42.0),
        ("1,234.5", 1234.5),
        ("1,234,567", 1234567.0),
        (" 99.9% ", 99.9),
        ("99.9 %", 99.9),
        ("$1.2M", 1_200_000.0),
        ("€42,500", 42500.0),
        ("42,500 €", 42500.0),
        ("£7", 7.0),
        ("1.5k", 1500.0),
        ("1.15K", 1150.0),
        ("12bn", 12e9),
        ("2B", 2e9),
        ("3t", 3e12),
        ("-3", -3.0),
        ("\u22123", -3.0),
        ("+3", 3.0),
        ("(12)", -12.0),
        ("($1,200)", -1200.0),
        ("-$5", -5.0),
        ("$-5", -5.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
        ("TRUE", 1.0),
        ("false", 0.0),
        ("Yes", 1.0),
        ("no", 0.0),
        ("on", 1.0),
        ("OFF", 0.0),
        ("\u00a07\u00a0", 7.0),
    ],
)
def test_parse_number_reads_numbers_and_numeric_text(raw: object, expected: float) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("n/a", "value 'n/a' is not a number"),
        ("", "value is empty"),
        ("   ", "value is empty"),
        ("1,5", "is not a number"),
        ("1,23,456", "is not a number"),
        ("1.234,5", "is not a number"),
        ("1 000", "is not a number"),
        ("NaN", "is not a number"),
        ("inf", "is not a number"),
        ("-Infinity", "is not a number"),
        ("1e400", "out of range"),
        ("1e308k", "out of range"),
        ("x" * 500, "too long"),
        ("--3", "is not a number"),
        ("-(3)", "is not a number"),
        ("(-3)", "is not a number"),
        ("+-3", "is not a number"),
        ("$", "is not a number"),
        ("%", "is not a number"),
        ("1e", "is not a number"),
        ("0x1f", "is not a number"),
        ("\u0663", "is not a number"),
        ("\uff11", "is not a number"),
        ("12 apples", "is not a number"),
        (None, "null"),
        ([1], "list"),
        ((1,), "list"),
        ({"value": 1}, "object"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (10**400, "too large"),
        (b"12", "type bytes"),
        (object(), "type object"),
    ],
)
def test_parse_number_refuses_what_is_not_a_number(raw: object, message: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_number(raw)
    assert message in str(info.value)


def test_parse_number_shortens_long_values_in_the_message() -> None:
    with pytest.raises(ValueParseError) as info:
        parse_number("not a number " * 10)
    assert len(str(info.value)) < 80


@pytest.mark.parametrize("text", ["99.9%", "12k", "$1.2M", "(12)", "n/a", "1,5", "", "1e400"])
def test_cell_text_is_read_by_the_parser_inline_edit_uses(text: str) -> None:
    # One parser for typed and pulled numbers: same number, or the same refusal.
    try:
        expected: float | str = parse_number_text(text)
    except NumberTextError as exc:
        expected = str(exc)
    try:
        got: float | str = parse_number(text)
    except ValueParseError as exc:
        got = str(exc)
    assert got == expected


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_parse_number_returns_a_finite_float_or_raises_value_parse_error(raw: object) -> None:
    try:
        number = parse_number(raw)
    except ValueParseError:
        return
    assert isinstance(number, float)
    assert math.isfinite(number)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789,.-+()$€%kKmMbBtTeE \u2212xn/a", max_size=20))
def test_parse_number_on_number_like_text_never_raises_anything_else(raw: str) -> None:
    with contextlib.suppress(ValueParseError):
        assert math.isfinite(parse_number(raw))


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_reads_back_the_text_of_any_finite_float(number: float) -> None:
    assert parse_number(repr(number)) == number


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**15))
def test_parse_number_reads_thousands_separated_integers(number: int) -> None:
    assert parse_number(f"{number:,}") == float(number)


DOCUMENT = {
    "value": 12.5,
    "data": {"uptime": "99.9%", "metrics": {"uptime": 0.999}},
    "items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}],
    "empty": [],
    "flag": True,
    "nothing": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.value", 12.5),
        ("$.data.uptime", "99.9%"),
        ("$.data.metrics.uptime", 0.999),
        ("$['data']['metrics']['uptime']", 0.999),
        ("$.items[0].v", 1),
        ("$.items[-1].v", 2),
        ("$.items[?@.name == 'b'].v", 2),
        ("$.flag", True),
        ("$.nothing", None),
    ],
)
def test_extract_jsonpath_returns_the_single_selected_node(path: str, expected: object) -> None:
    assert extract_jsonpath(DOCUMENT, path) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("$.data.missing", "$.data.missing matched nothing"),
        ("$.empty[0]", "matched nothing"),
        ("$.items[*].v", "matched 2 values; it must select exactly one"),
        ("$..uptime", "matched 2 values"),
        ("$..[", "invalid JSONPath '$..['"),
        ("data.uptime", "invalid JSONPath"),
        ("$.a | $.b", "invalid JSONPath"),
        (" $.value", "invalid JSONPath"),
        ("$.items.#", "invalid JSONPath"),
        ("", "the JSONPath is empty"),
        ("$" + ".a" * 600, "longer than"),
    ],
)
def test_extract_jsonpath_refuses_paths_that_do_not_select_one_node(
    path: str, message: str
) -> None:
    with pytest.raises(ValueParseError) as info:
        extract_jsonpath(DOCUMENT, path)
    assert message in str(info.value)


def test_extract_jsonpath_does_not_reparse_a_string_document_as_json() -> None:
    assert extract_jsonpath("[1, 2]", "$") == "[1, 2]"
    with pytest.raises(ValueParseError, match="matched nothing"):
        extract_jsonpath("[1, 2]", "$[0]")


def test_extract_jsonpath_on_a_scalar_document_selects_only_the_root() -> None:
    assert extract_jsonpath(42, "$") == 42
    with pytest.raises(ValueParseError, match="matched nothing"):
        extract_jsonpath(42, "$.value")


@pytest.mark.parametrize("path", ["$.value", "$['a b']", "$.items[?@.v > 1].name", "$..x"])
def test_validate_jsonpath_returns_a_valid_path_unchanged(path: str) -> None:
    assert validate_jsonpath(path) == path


@pytest.mark.parametrize("path", ["", "value", "$.", "$[", "$.a.length()", "^.a", "$.a~"])
def test_validate_jsonpath_refuses_invalid_paths(path: str) -> None:
    with pytest.raises(ValueParseError):
        validate_jsonpath(path)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="$.[]?@*'\"=<>!()&|~#^,:-0123456789abc ", max_size=30), JSON_VALUES)
def test_extract_jsonpath_never_raises_anything_but_value_parse_error(
    path: str, document: object
) -> None:
    with contextlib.suppress(ValueParseError):
        extract_jsonpath(document, path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"value": 1}', {"value": 1}),
        (b"  [1, 2] ", [1, 2]),
        (b"42", 42),
        (b'"text"', "text"),
        ('{"v": "\u20ac"}'.encode("utf-16"), {"v": "\u20ac"}),
    ],
)
def test_parse_json_body_decodes_json(body: bytes, expected: object) -> None:
    assert parse_json_body(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "response is empty"),
        (b"  \n", "response is empty"),
        (b"<html>", "response is not JSON"),
        (b"\xff\xfe\xfd", "response is not JSON"),
        (b"NaN", "NaN is not valid JSON"),
        (b'{"v": Infinity}', "Infinity is not valid JSON"),
        (b"[" * 100_000, "nested deeper than"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested deeper than"),
        (b"1" * 5000, "response is not JSON"),
    ],
)
def test_parse_json_body_refuses_what_is_not_usable_json(body: bytes, message: str) -> None:
    with pytest.raises(ValueParseError) as info:
        parse_json_body(body)
    assert message in str(info.value)


def test_parse_json_body_accepts_nesting_up_to_the_limit() -> None:
    body = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json_body(body) is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_parse_json_body_never_raises_anything_but_value_parse_error(body: bytes) -> None:
    with contextlib.suppress(ValueParseError):
        parse_json_body(body)
