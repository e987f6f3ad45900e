"""The API's body parser and shared input types: what reaches the domains is safe to store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from pulseboard.core.api_input import (
    MAX_DEPTH,
    ApiDatetime,
    BodyRejected,
    ObservedAt,
    check_json_value,
    parse_json_body,
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return {"a": value} if depth else value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b"NaN", "NaN"),
        (b"[Infinity]", "Infinity"),
        (b'{"k": "\\u0000"}', "NUL"),
        (b'{"\\u0000": 1}', "NUL"),
        (b'["\\udc00"]', "surrogate"),
        (b"[" * 50_000 + b"]" * 50_000, "nest"),
        (json.dumps(_nested(MAX_DEPTH + 1)).encode(), "nest"),
        (b"1" * 5000, "not valid JSON"),
    ],
)
def test_parser_rejects_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(BodyRejected, match=message):
        parse_json_body(body)


def test_parser_accepts_json_up_to_the_depth_limit() -> None:
    assert parse_json_body(json.dumps(_nested(MAX_DEPTH - 1)).encode()) == _nested(MAX_DEPTH - 1)
    assert parse_json_body('{"t": "Ünïcødé 😀"}'.encode()) == {"t": "Ünïcødé 😀"}


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_parser_either_returns_the_value_or_rejects_never_anything_else(value: Any) -> None:
    body = json.dumps(value).encode("utf-8", "surrogatepass")
    try:
        assert parse_json_body(body) == value
    except BodyRejected:
        with pytest.raises(BodyRejected):
            check_json_value(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T12:00:00Z", datetime(2025, 3, 1, 12, tzinfo=UTC)),
        ("2025-03-01T13:30:00+01:30", datetime(2025, 3, 1, 12, tzinfo=UTC)),
    ],
)
def test_api_datetime_is_normalised_to_utc(text: str, expected: datetime) -> None:
    value = TypeAdapter(ApiDatetime).validate_python(text)
    assert value == expected and value.tzinfo is UTC


@pytest.mark.parametrize(
    ("adapter", "text"),
    [
        (ApiDatetime, "2025-03-01T12:00:00"),
        (ApiDatetime, "9999-12-31T23:59:59-01:00"),
        (ApiDatetime, "0001-01-01T00:00:00+01:00"),
        (ObservedAt, "1969-12-31T23:59:59Z"),
        (ObservedAt, "tomorrow"),
        (ApiDatetime, "-2.7370442293726717e-164"),
        (ApiDatetime, 1735689600),
        (ObservedAt, 1735689600.5),
        (ObservedAt, "1735689600"),
        (ObservedAt, None),
    ],
)
def test_numbers_naive_unconvertible_or_pre_1970_times_are_rejected(
    adapter: Any, text: object
) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(adapter).validate_python(text)
