"""Shape parameter validation and normalisation (indicators/shapes.py)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.shapes import (
    PARAM_NAMES,
    SHAPE_PARAMS,
    WARNING_PARAMS,
    BaselineMode,
    Direction,
    Shape,
    ShapeParams,
    ShapeValidationError,
    as_finite,
    params_of,
    shape_params_doc,
    validate_params,
)

INF = math.inf
NAN = math.nan


def errors_of(**fields: Any) -> dict[str, str]:
    with pytest.raises(ShapeValidationError) as caught:
        validate_params(ShapeParams(**fields))
    return caught.value.errors


def test_enums_use_the_stable_api_values() -> None:
    assert [s.value for s in Shape] == ["stay_above", "stay_below", "stay_between", "trend"]
    assert [d.value for d in Direction] == ["up", "down"]
    assert [m.value for m in BaselineMode] == ["fixed", "prior_period"]


def test_shape_params_names_each_shape_and_every_parameter_once() -> None:
    assert list(SHAPE_PARAMS) == list(Shape)
    parameters = {field.name for field in dataclasses.fields(ShapeParams)} - {"shape"}
    assert sorted(PARAM_NAMES) == sorted(parameters)
    assert len(PARAM_NAMES) == len(set(PARAM_NAMES))
    # A shared parameter sits after the fields of every shape that uses it.
    assert PARAM_NAMES[-1] == "warn_margin"


def test_each_shape_takes_exactly_one_warning_band() -> None:
    for shape in Shape:
        assert len(set(WARNING_PARAMS) & set(params_of(shape))) == 1


@pytest.mark.parametrize(
    ("shape", "mode", "expected"),
    [
        ("stay_above", None, ("threshold", "warn_at")),
        ("stay_between", "prior_period", ("lower", "upper", "warn_margin")),
        (
            "trend",
            None,
            ("direction", "baseline_mode", "baseline", "baseline_period", "warn_margin"),
        ),
        ("trend", "fixed", ("direction", "baseline_mode", "baseline", "warn_margin")),
        ("trend", "prior_period", ("direction", "baseline_mode", "baseline_period", "warn_margin")),
        ("sideways", None, ()),
    ],
)
def test_params_of_reads_shape_params(shape: str, mode: str | None, expected: tuple) -> None:
    assert params_of(shape, mode) == expected


@pytest.mark.parametrize("shape", list(Shape))
def test_validation_requires_what_shape_params_marks_required(shape: Shape) -> None:
    required = {
        param.name
        for param in SHAPE_PARAMS[shape]
        if param.required and param.baseline_mode in (None, BaselineMode.FIXED)
    }
    assert set(errors_of(shape=shape.value)) == required


@settings(max_examples=200, deadline=None)
@given(
    shape=st.sampled_from(list(Shape)),
    mode=st.sampled_from(list(BaselineMode)),
    number=st.floats(min_value=-1e6, max_value=1e6),
)
def test_a_valid_result_carries_only_the_parameters_of_its_shape(
    shape: Shape, mode: BaselineMode, number: float
) -> None:
    given_params = ShapeParams(
        shape=shape,
        threshold=number,
        lower=number,
        upper=number + 1,
        direction="up",
        baseline=number,
        baseline_mode=mode,
        baseline_period="7d",
    )
    result = validate_params(given_params)
    kept = {
        name
        for name in PARAM_NAMES
        if getattr(result, name) is not None and name != "baseline_mode"
    }
    assert kept <= set(params_of(shape, mode))


def test_the_prose_version_names_every_shape_and_parameter() -> None:
    text = shape_params_doc()
    assert all(shape.value in text for shape in Shape)
    assert all(name in text for name in PARAM_NAMES)
    assert "baseline (required when baseline_mode is fixed)" in text


@pytest.mark.parametrize(
    ("given_params", "expected"),
    [
        pytest.param(
            ShapeParams("stay_above", threshold=99, lower=1, upper=2, direction="up", baseline=5),
            ShapeParams("stay_above", threshold=99.0),
            id="stay_above_drops_other_shapes_params",
        ),
        pytest.param(
            ShapeParams("stay_above", threshold=99.9, warn_at=99.95),
            ShapeParams("stay_above", threshold=99.9, warn_at=99.95),
            id="stay_above_keeps_warn_at",
        ),
        pytest.param(
            ShapeParams("stay_below", threshold=500, warn_at=400, baseline_period="7d"),
            ShapeParams("stay_below", threshold=500.0, warn_at=400.0),
            id="stay_below_keeps_warn_at_and_drops_period",
        ),
        pytest.param(
            ShapeParams("stay_between", lower=3, upper=7, threshold=4, warn_margin=0.5),
            ShapeParams("stay_between", lower=3.0, upper=7.0, warn_margin=0.5),
            id="stay_between_drops_threshold",
        ),
        pytest.param(
            ShapeParams("stay_between", lower=5, upper=5),
            ShapeParams("stay_between", lower=5.0, upper=5.0),
            id="stay_between_allows_a_single_point",
        ),
        pytest.param(
            ShapeParams("stay_between", lower=0, upper=10, warn_margin=5),
            ShapeParams("stay_between", lower=0.0, upper=10.0, warn_margin=5.0),
            id="stay_between_allows_margin_of_half_the_band",
        ),
        pytest.param(
            ShapeParams("trend", direction="up", baseline=1_200_000, threshold=3),
            ShapeParams("trend", direction="up", baseline=1_200_000.0),
            id="trend_fixed_keeps_baseline",
        ),
        pytest.param(
            ShapeParams(
                "trend",
                direction="down",
                baseline=10,
                baseline_mode="prior_period",
                baseline_period="1w",
                warn_margin=0,
            ),
            ShapeParams(
                "trend",
                direction="down",
                baseline_mode="prior_period",
                baseline_period="7d",
                warn_margin=0.0,
            ),
            id="trend_prior_period_ignores_baseline_and_canonicalises_period",
        ),
        pytest.param(
            ShapeParams("trend", direction="up", baseline=-3, baseline_period="30d"),
            ShapeParams("trend", direction="up", baseline=-3.0),
            id="trend_fixed_drops_period",
        ),
    ],
)
def test_validate_params_returns_normalised_copy(
    given_params: ShapeParams, expected: ShapeParams
) -> None:
    assert validate_params(given_params) == expected


def test_validate_params_returns_enum_members_and_floats() -> None:
    result = validate_params(ShapeParams("trend", direction="up", baseline=3))
    assert result.shape is Shape.TREND
    assert result.direction is Direction.UP
    assert result.baseline_mode is BaselineMode.FIXED
    assert type(result.baseline) is float


def test_validate_params_is_idempotent() -> None:
    once = validate_params(
        ShapeParams("trend", direction="up", baseline_mode="prior_period", baseline_period="2w")
    )
    assert validate_params(once) == once


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {"shape": "stay_around"},
            {"shape": "shape must be one of stay_above, stay_below, stay_between, trend"},
            id="unknown_shape",
        ),
        pytest.param(
            {"shape": "Stay_Above", "threshold": 1},
            {"shape": "shape must be one of stay_above, stay_below, stay_between, trend"},
            id="shape_is_case_sensitive",
        ),
        pytest.param(
            {"shape": None},
            {"shape": "shape must be one of stay_above, stay_below, stay_between, trend"},
            id="missing_shape",
        ),
        pytest.param(
            {"shape": "stay_above"},
            {"threshold": "threshold is required for stay_above"},
            id="stay_above_needs_threshold",
        ),
        pytest.param(
            {"shape": "stay_below"},
            {"threshold": "threshold is required for stay_below"},
            id="stay_below_needs_threshold",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": NAN},
            {"threshold": "threshold must be a finite number"},
            id="nan_threshold",
        ),
        pytest.param(
            {"shape": "stay_below", "threshold": INF},
            {"threshold": "threshold must be a finite number"},
            id="infinite_threshold",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": "35"},
            {"threshold": "threshold must be a finite number"},
            id="text_threshold",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": True},
            {"threshold": "threshold must be a finite number"},
            id="bool_threshold",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": 10**400},
            {"threshold": "threshold must be a finite number"},
            id="int_too_large_for_a_float",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": 1, "lower": NAN},
            {"lower": "lower must be a finite number"},
            id="nan_in_an_unused_field",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": 99.9, "warn_at": 99.8},
            {"warn_at": "warn_at must be above the floor (threshold) for stay_above"},
            id="stay_above_warn_at_below_floor",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": 99.9, "warn_at": 99.9},
            {"warn_at": "warn_at must be above the floor (threshold) for stay_above"},
            id="stay_above_warn_at_equal_to_floor",
        ),
        pytest.param(
            {"shape": "stay_below", "threshold": 500, "warn_at": 600},
            {"warn_at": "warn_at must be below the ceiling (threshold) for stay_below"},
            id="stay_below_warn_at_above_ceiling",
        ),
        pytest.param(
            {"shape": "stay_below", "threshold": 500, "warn_at": 500},
            {"warn_at": "warn_at must be below the ceiling (threshold) for stay_below"},
            id="stay_below_warn_at_equal_to_ceiling",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": 1, "warn_margin": 0.5},
            {"warn_margin": "warn_margin does not apply to stay_above; use warn_at"},
            id="stay_above_rejects_warn_margin",
        ),
        pytest.param(
            {"shape": "stay_below", "threshold": 1, "warn_margin": 0.5},
            {"warn_margin": "warn_margin does not apply to stay_below; use warn_at"},
            id="stay_below_rejects_warn_margin",
        ),
        pytest.param(
            {"shape": "stay_above", "threshold": 1, "warn_at": INF},
            {"warn_at": "warn_at must be a finite number"},
            id="infinite_warn_at",
        ),
        pytest.param(
            {"shape": "stay_between"},
            {
                "lower": "lower is required for stay_between",
                "upper": "upper is required for stay_between",
            },
            id="stay_between_needs_both_bounds",
        ),
        pytest.param(
            {"shape": "stay_between", "lower": 3},
            {"upper": "upper is required for stay_between"},
            id="stay_between_needs_upper",
        ),
        pytest.param(
            {"shape": "stay_between", "lower": 7, "upper": 3},
            {"upper": "upper must be >= lower"},
            id="stay_between_upper_below_lower",
        ),
        pytest.param(
            {"shape": "stay_between", "lower": 3, "upper": 7, "warn_at": 4},
            {"warn_at": "warn_at does not apply to stay_between; use warn_margin"},
            id="stay_between_rejects_warn_at",
        ),
        pytest.param(
            {"shape": "stay_between", "lower": 3, "upper": 7, "warn_margin": -0.1},
            {"warn_margin": "warn_margin must be >= 0"},
            id="stay_between_negative_margin",
        ),
        pytest.param(
            {"shape": "stay_between", "lower": 0, "upper": 10, "warn_margin": 5.01},
            {
                "warn_margin": "warn_margin is too wide: twice the margin exceeds the band "
                "(upper - lower), so the value could never be green"
            },
            id="stay_between_margin_wider_than_half_the_band",
        ),
        pytest.param(
            {"shape": "trend", "baseline": 1},
            {"direction": "direction must be up or down for trend"},
            id="trend_needs_direction",
        ),
        pytest.param(
            {"shape": "trend", "direction": "sideways", "baseline": 1},
            {"direction": "direction must be up or down for trend"},
            id="trend_unknown_direction",
        ),
        pytest.param(
            {"shape": "trend", "direction": "up"},
            {"baseline": "baseline is required for a trend with a fixed baseline"},
            id="trend_fixed_needs_baseline",
        ),
        pytest.param(
            {"shape": "trend", "direction": "up", "baseline": NAN},
            {"baseline": "baseline must be a finite number"},
            id="trend_nan_baseline",
        ),
        pytest.param(
            {"shape": "trend", "direction": "up", "baseline_mode": "prior_period"},
            {
                "baseline_period": "baseline_period is required for a prior_period trend, "
                "e.g. 7d, 30d or 90d"
            },
            id="trend_prior_period_needs_period",
        ),
        pytest.param(
            {
                "shape": "trend",
                "direction": "up",
                "baseline_mode": "prior_period",
                "baseline_period": "",
            },
            {
                "baseline_period": "baseline_period is required for a prior_period trend, "
                "e.g. 7d, 30d or 90d"
            },
            id="trend_prior_period_empty_period",
        ),
        pytest.param(
            {
                "shape": "trend",
                "direction": "up",
                "baseline_mode": "prior_period",
                "baseline_period": "0d",
            },
            {"baseline_period": "baseline_period: duration must be greater than zero"},
            id="trend_prior_period_zero_period",
        ),
        pytest.param(
            {
                "shape": "trend",
                "direction": "down",
                "baseline_mode": "prior_period",
                "baseline_period": "a month",
            },
            {
                "baseline_period": "baseline_period: 'a month' is not a duration; use a whole "
                "number and a unit (s, m, h, d, w, y) such as 15m, 1h or 7d"
            },
            id="trend_prior_period_bad_period",
        ),
        pytest.param(
            {"shape": "trend", "direction": "up", "baseline": 1, "baseline_mode": "rolling"},
            {"baseline_mode": "baseline_mode must be fixed or prior_period"},
            id="trend_unknown_baseline_mode",
        ),
        pytest.param(
            {"shape": "trend", "direction": "up", "baseline": 1, "warn_at": 2},
            {"warn_at": "warn_at does not apply to trend; use warn_margin"},
            id="trend_rejects_warn_at",
        ),
        pytest.param(
            {"shape": "trend", "direction": "up", "baseline": 1, "warn_margin": -1},
            {"warn_margin": "warn_margin must be >= 0"},
            id="trend_negative_margin",
        ),
        pytest.param(
            {"shape": "trend", "warn_at": 2, "warn_margin": -1},
            {
                "direction": "direction must be up or down for trend",
                "warn_at": "warn_at does not apply to trend; use warn_margin",
                "warn_margin": "warn_margin must be >= 0",
                "baseline": "baseline is required for a trend with a fixed baseline",
            },
            id="trend_reports_every_error_at_once",
        ),
        pytest.param(
            {"shape": "stay_between", "lower": NAN, "upper": INF, "warn_at": 1},
            {
                "lower": "lower must be a finite number",
                "upper": "upper must be a finite number",
                "warn_at": "warn_at does not apply to stay_between; use warn_margin",
            },
            id="stay_between_reports_every_error_at_once",
        ),
    ],
)
def test_validate_params_reports_each_field_error(
    fields: dict[str, Any], expected: dict[str, str]
) -> None:
    assert errors_of(**fields) == expected


def test_shape_validation_error_is_a_value_error_naming_each_field() -> None:
    with pytest.raises(ValueError, match=r"lower: lower is required.*upper: upper is required"):
        validate_params(ShapeParams("stay_between"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1.0),
        (-2.5, -2.5),
        (0, 0.0),
        (NAN, None),
        (INF, None),
        (-INF, None),
        (True, None),
        ("1", None),
        (None, None),
        (10**400, None),
    ],
)
def test_as_finite_accepts_only_finite_numbers(value: object, expected: float | None) -> None:
    assert as_finite(value) == expected


anything = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(
    shape=st.one_of(st.sampled_from([s.value for s in Shape]), st.text(max_size=8), st.none()),
    threshold=anything,
    lower=anything,
    upper=anything,
    direction=st.one_of(st.sampled_from(["up", "down"]), anything),
    baseline=anything,
    baseline_mode=st.one_of(st.sampled_from(["fixed", "prior_period"]), anything),
    baseline_period=st.one_of(st.sampled_from(["7d", "30d", "1w", "0d"]), anything),
    warn_at=anything,
    warn_margin=anything,
)
def test_validate_params_raises_nothing_but_shape_validation_error(**fields: Any) -> None:
    try:
        result = validate_params(ShapeParams(**fields))
    except ShapeValidationError as exc:
        assert exc.errors
        return
    for name in ("threshold", "lower", "upper", "baseline", "warn_at", "warn_margin"):
        value = getattr(result, name)
        assert value is None or (type(value) is float and math.isfinite(value))
    assert validate_params(result) == result
