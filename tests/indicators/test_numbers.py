"""Number text (indicators/numbers.py): the one parser for typed and pulled values."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.numbers import (
    MAX_TEXT_LENGTH,
    NumberTextError,
    NumberTextReason,
    parse_number_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42.0),
        ("1,234.5", 1234.5),
        ("99.9%", 99.9),
        ("99.9 %", 99.9),
        ("12k", 12_000.0),
        ("1.15K", 1150.0),
        ("$1.2M", 1_200_000.0),
        ("€42,500", 42_500.0),
        ("42,500 €", 42_500.0),
        ("2.5bn", 2.5e9),
        ("3t", 3e12),
        ("(12)", -12.0),
        ("($1,200)", -1200.0),
        ("-$5", -5.0),
        ("\u22123", -3.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("\u00a07\u00a0", 7.0),
    ],
)
def test_number_text_as_people_and_sheets_write_it(text: str, expected: float) -> None:
    assert parse_number_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("yes", 1.0), ("TRUE", 1.0), ("on", 1.0), ("No", 0.0), ("off", 0.0)]
)
def test_yes_and_no_words_are_one_and_zero_when_words_are_allowed(
    text: str, expected: float
) -> None:
    assert parse_number_text(text, words=True) == expected
    with pytest.raises(NumberTextError) as caught:
        parse_number_text(text, words=False)
    assert caught.value.reason is NumberTextReason.NOT_A_NUMBER


@pytest.mark.parametrize(
    ("text", "reason", "message"),
    [
        ("", NumberTextReason.EMPTY, "value is empty"),
        ("  ", NumberTextReason.EMPTY, "value is empty"),
        ("x" * (MAX_TEXT_LENGTH + 1), NumberTextReason.TOO_LONG, "too long"),
        ("1,5", NumberTextReason.NOT_A_NUMBER, "value '1,5' is not a number"),
        ("12 apples", NumberTextReason.NOT_A_NUMBER, "is not a number"),
        ("nan", NumberTextReason.NOT_A_NUMBER, "is not a number"),
        ("-Infinity", NumberTextReason.NOT_A_NUMBER, "is not a number"),
        ("--3", NumberTextReason.NOT_A_NUMBER, "is not a number"),
        ("\u0663", NumberTextReason.NOT_A_NUMBER, "is not a number"),
        ("1e400", NumberTextReason.OUT_OF_RANGE, "out of range"),
        ("1e308k", NumberTextReason.OUT_OF_RANGE, "out of range"),
    ],
)
def test_what_is_not_a_number_says_why(text: str, reason: NumberTextReason, message: str) -> None:
    with pytest.raises(NumberTextError) as caught:
        parse_number_text(text)
    assert caught.value.reason is reason
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789,.-+()$€%kKmMbBtTeE \u2212xyesno", max_size=24))
def test_any_text_is_a_finite_number_or_a_number_text_error(text: str) -> None:
    with contextlib.suppress(NumberTextError):
        assert math.isfinite(parse_number_text(text))
