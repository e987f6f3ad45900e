"""KpiSpec (indicators/spec.py): one validation for API and form, all errors at once; patches."""

from __future__ import annotations

from typing import Any

import pytest

from pulseboard.core.errors import ValidationFailed
from pulseboard.indicators.formatting import DisplayFormat, UnitType
from pulseboard.indicators.shapes import PARAM_NAMES, BaselineMode, Direction, Shape
from pulseboard.indicators.spec import (
    MAX_POSITION,
    SPEC_FIELDS,
    Category,
    KpiSpec,
    KpiSpecInvalid,
    spec_patched,
    validate_spec,
)

NPS = KpiSpec(title="NPS", shape=Shape.STAY_ABOVE, threshold=35)


def errors_of(**fields: Any) -> dict[str, str]:
    with pytest.raises(KpiSpecInvalid) as caught:
        validate_spec(KpiSpec(**{"title": "x", "shape": "stay_above", "threshold": 1, **fields}))
    return caught.value.errors


def test_a_valid_spec_comes_back_normalised_with_enum_members() -> None:
    checked = validate_spec(
        KpiSpec(
            title="  Churn  ",
            shape="trend",
            direction="down",
            baseline=4,
            baseline_period="30d",
            threshold=9,
            unit_type="percentage",
            display_format="percentage",
            category="lagging",
            expected_every="",
            compare_period=" 1w ",
        )
    )
    assert checked.title == "Churn"
    assert checked.shape is Shape.TREND and checked.direction is Direction.DOWN
    assert checked.baseline_mode is BaselineMode.FIXED and checked.baseline == 4.0
    # Parameters the shape does not use are dropped, whatever the form left in them.
    assert checked.threshold is None and checked.baseline_period is None
    assert checked.unit_type is UnitType.PERCENTAGE
    assert checked.display_format is DisplayFormat.PERCENTAGE
    assert checked.category is Category.LAGGING
    assert checked.expected_every is None and checked.compare_period == "1w"


def test_validation_is_idempotent() -> None:
    once = validate_spec(NPS)
    assert validate_spec(once) == once


def test_every_broken_rule_is_reported_at_once() -> None:
    errors = errors_of(
        title="",
        threshold=None,
        warn_margin=1,
        unit_type="smiles",
        display_format="roman",
        unit_label="x" * 21,
        category="sideways",
        position=-1,
        expected_every="soon",
        compare_period="",
        baseline_period="forever",
    )
    assert set(errors) == {
        "title",
        "threshold",
        "warn_margin",
        "unit_type",
        "display_format",
        "unit_label",
        "category",
        "position",
        "expected_every",
        "compare_period",
        "baseline_period",
    }
    assert errors["threshold"] == "threshold is required for stay_above"
    assert errors["warn_margin"] == "warn_margin does not apply to stay_above; use warn_at"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"description": "x" * 2001}, "description"),
        ({"description": 5}, "description"),
        ({"shape": "sideways"}, "shape"),
        ({"threshold": "ten"}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"published": "yes"}, "published"),
        ({"position": True}, "position"),
        ({"position": MAX_POSITION + 1}, "position"),
        ({"parent_id": 5}, "parent_id"),
        ({"compare_period": "12345678901d"}, "compare_period"),
        ({"expected_every": 3}, "expected_every"),
    ],
)
def test_a_wrong_value_or_type_is_a_field_error_never_an_exception(
    fields: dict[str, Any], field: str
) -> None:
    assert field in errors_of(**fields)


def test_the_error_is_a_validation_failed_naming_each_field() -> None:
    with pytest.raises(ValidationFailed, match=r"title: title is required"):
        validate_spec(KpiSpec(title="", shape=Shape.STAY_ABOVE, threshold=1))


def test_a_malformed_period_keeps_its_own_message_over_the_shape_rule() -> None:
    errors = errors_of(
        shape="trend", direction="up", baseline_mode="prior_period", baseline_period="a month"
    )
    assert errors["baseline_period"].startswith("'a month' is not a duration")


def test_a_patch_changes_only_the_named_fields() -> None:
    patched = spec_patched(NPS, {"title": "Net promoters", "warn_at": 40.0})
    assert (patched.title, patched.threshold, patched.warn_at) == ("Net promoters", 35, 40.0)


def test_a_new_shape_starts_from_its_own_parameters() -> None:
    old = KpiSpec(title="Latency", shape=Shape.STAY_ABOVE, threshold=300, warn_at=350)
    patched = spec_patched(old, {"shape": Shape.TREND, "direction": Direction.DOWN})
    assert (patched.threshold, patched.warn_at) == (None, None)
    assert patched.baseline_mode is BaselineMode.FIXED
    with pytest.raises(KpiSpecInvalid) as caught:
        validate_spec(patched)
    assert "baseline" in caught.value.errors


def test_the_same_shape_keeps_its_parameters() -> None:
    patched = spec_patched(NPS, {"shape": "stay_above"})
    assert patched.threshold == 35


def test_a_patch_naming_an_unknown_field_is_refused() -> None:
    with pytest.raises(KpiSpecInvalid) as caught:
        spec_patched(NPS, {"colour": "red"})
    assert caught.value.errors == {"colour": "unknown field 'colour'"}


def test_the_spec_holds_every_shape_parameter() -> None:
    assert set(PARAM_NAMES) <= set(SPEC_FIELDS)
