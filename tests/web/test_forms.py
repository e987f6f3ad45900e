"""Web forms: typed values, and KPI form data trimmed to the chosen shape."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.numbers import parse_number_text
from pulseboard.indicators.shapes import BaselineMode, Direction, Shape
from pulseboard.indicators.spec import Category
from pulseboard.web.forms import KpiForm, parse_value_text

BASE = {
    "title": "T",
    "shape": "stay_above",
    "unit_type": "number",
    "display_format": "decimal_1",
    "compare_period": "7d",
}


@pytest.mark.parametrize(
    ("text", "unit_type", "expected"),
    [
        ("42", "number", 42.0),
        (" 1,234,567.5 ", "number", 1234567.5),
        ("-0.5", "number", -0.5),
        ("\u22123", "number", -3.0),
        ("1e3", "number", 1000.0),
        ("yes", "boolean", 1.0),
        ("No", "boolean", 0.0),
        ("off", "boolean", 0.0),
        ("99.9%", "percentage", 99.9),
        ("12k", "number", 12_000.0),
        ("$1.2M", "currency", 1_200_000.0),
        ("(12)", "number", -12.0),
    ],
)
def test_typed_values_that_are_numbers(text: str, unit_type: str, expected: float) -> None:
    assert parse_value_text(text, unit_type=unit_type) == expected


@pytest.mark.parametrize(
    "text", ["", "  ", "abc", "1,5", "1,23", "nan", "inf", "-inf", "1e400", "yes", "1" * 65]
)
def test_typed_values_that_are_not_numbers_say_why(text: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        parse_value_text(text, unit_type="number")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_finite_number_or_a_value_error(text: str) -> None:
    try:
        value = parse_value_text(text, unit_type="number")
    except ValueError:
        return
    assert value == value and abs(value) != float("inf")


@pytest.mark.parametrize(
    ("posted", "expected"),
    [
        (
            {"shape": "stay_above", "threshold": "5", "lower": "1", "warn_margin": "2"},
            {"threshold": 5.0, "lower": None, "warn_margin": None, "direction": None},
        ),
        (
            {"shape": "stay_between", "lower": "1", "upper": "9", "threshold": "5", "warn_at": "3"},
            {"lower": 1.0, "upper": 9.0, "threshold": None, "warn_at": None},
        ),
        (
            {
                "shape": "trend",
                "direction": "up",
                "baseline_mode": "fixed",
                "baseline": "4",
                "baseline_period": "30d",
            },
            {"direction": "up", "baseline": 4.0, "baseline_period": None, "baseline_mode": "fixed"},
        ),
        (
            {
                "shape": "trend",
                "direction": "down",
                "baseline_mode": "prior_period",
                "baseline": "4",
                "baseline_period": "30d",
            },
            {"baseline": None, "baseline_period": "30d", "baseline_mode": "prior_period"},
        ),
    ],
)
def test_the_form_sends_only_the_parameters_of_its_shape(
    posted: dict[str, str], expected: dict[str, Any]
) -> None:
    form = KpiForm({**BASE, **posted})
    assert form.is_valid(), form.errors
    spec = form.spec()
    assert {name: getattr(spec, name) for name in expected} == expected
    assert spec.parent_id is None and spec.published is False and spec.position is None


def test_an_unknown_parent_is_not_a_choice() -> None:
    form = KpiForm({**BASE, "threshold": "1", "parent": "someone-elses"}, parents=[])
    assert not form.is_valid() and "parent" in form.errors


@pytest.mark.parametrize("text", ["99.9%", "12k", "1,234.5", "€42,500", "2.5bn", "-3", "1e3"])
def test_a_typed_value_is_read_by_the_parser_pulled_values_use(text: str) -> None:
    assert parse_value_text(text, unit_type="number") == parse_number_text(text)


@pytest.mark.parametrize(
    ("field", "vocabulary", "blank"),
    [
        ("shape", Shape, False),
        ("direction", Direction, False),
        ("baseline_mode", BaselineMode, False),
        ("unit_type", UnitType, False),
        ("display_format", DisplayFormat, False),
        ("category", Category, True),
    ],
)
def test_kpi_form_choices_are_the_vocabularies(field: str, vocabulary: Any, blank: bool) -> None:
    values = [value for value, _ in KpiForm().fields[field].choices]  # type: ignore[attr-defined]
    assert values == [*([""] if blank else []), *(member.value for member in vocabulary)]
