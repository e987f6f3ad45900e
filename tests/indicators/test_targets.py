"""Targets over time, the pure rules: which parameters hold when, schedule validation, phrase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pulseboard.indicators.shapes import ShapeParams
from pulseboard.indicators.status import Status, evaluate
from pulseboard.indicators.targets import (
    MAX_ENTRIES,
    Schedule,
    ScheduledTarget,
    ScheduleInvalid,
    entry_in_force,
    next_change,
    params_in_force,
    params_over_time,
    schedule_phrase,
    scheduled_params,
    validate_schedule,
)

JAN = datetime(2027, 1, 1, tzinfo=UTC)
FEB = datetime(2027, 2, 1, tzinfo=UTC)
BELOW = ShapeParams(shape="stay_below", threshold=500.0, warn_at=450.0)
ABOVE = ShapeParams(shape="stay_above", threshold=99.0)
BETWEEN = ShapeParams(shape="stay_between", lower=3.0, upper=7.0)
TREND = ShapeParams(shape="trend", direction="up", baseline=100.0)
ROLLING = ShapeParams(
    shape="trend", direction="up", baseline_mode="prior_period", baseline_period="7d"
)
ENTRIES = (
    ScheduledTarget(effective_from=FEB, threshold=300.0),
    ScheduledTarget(effective_from=JAN, threshold=400.0, warn_at=350.0),
)


def test_before_any_entry_the_kpis_own_parameters_hold() -> None:
    assert params_in_force(BELOW, ENTRIES, JAN - timedelta(microseconds=1)) == BELOW
    assert entry_in_force(ENTRIES, JAN - timedelta(seconds=1)) is None


def test_the_newest_entry_at_or_before_the_instant_holds_and_the_shape_stays() -> None:
    at_jan = params_in_force(BELOW, ENTRIES, JAN)
    assert (at_jan.shape, at_jan.threshold, at_jan.warn_at) == ("stay_below", 400.0, 350.0)
    mid_feb = params_in_force(BELOW, Schedule(ENTRIES), FEB + timedelta(days=10))
    # An entry is complete: no warn_at in it means no warning band while it holds.
    assert (mid_feb.threshold, mid_feb.warn_at) == (300.0, None)


def test_a_value_is_judged_by_the_target_in_force_when_it_was_observed() -> None:
    value = 420.0
    assert evaluate(params_in_force(BELOW, ENTRIES, JAN - timedelta(days=1)), value) is Status.GREEN
    assert evaluate(params_in_force(BELOW, ENTRIES, JAN + timedelta(days=1)), value) is Status.RED


def test_next_change_is_the_first_entry_after_the_instant() -> None:
    assert next_change(ENTRIES, JAN - timedelta(days=3)) == ENTRIES[1]
    assert next_change(ENTRIES, JAN) == ENTRIES[0]
    assert next_change(ENTRIES, FEB) is None


def test_entries_that_no_longer_fit_the_shape_are_passed_over() -> None:
    # Scheduled for a stay_below, then the KPI became a stay_between: never grey because of it.
    assert params_in_force(BETWEEN, ENTRIES, FEB) == BETWEEN
    assert next_change(ENTRIES, JAN - timedelta(days=1), base=BETWEEN) is None


def test_params_over_time_agrees_with_params_in_force() -> None:
    at = params_over_time(BELOW, ENTRIES)
    for moment in (
        JAN - timedelta(days=1),
        JAN,
        FEB - timedelta(seconds=1),
        FEB,
        FEB + timedelta(days=400),
    ):
        assert at(moment) == params_in_force(BELOW, ENTRIES, moment)
    assert params_over_time(BELOW, ())(JAN) is BELOW


def test_each_shape_schedules_its_own_parameters() -> None:
    assert scheduled_params("stay_above") == ("threshold", "warn_at")
    assert scheduled_params("stay_between") == ("lower", "upper", "warn_margin")
    assert scheduled_params("trend", "fixed") == ("baseline", "warn_margin")
    assert scheduled_params("trend", "prior_period") == ("warn_margin",)
    assert scheduled_params("nonsense") == ()


def test_a_valid_schedule_comes_back_sorted_in_utc_with_floats() -> None:
    schedule = validate_schedule(
        BELOW,
        [
            {"effective_from": "2027-02-01T01:00:00+01:00", "threshold": 300},
            {"effective_from": JAN, "threshold": 400, "warn_at": 350},
        ],
    )
    assert schedule.entries == (
        ScheduledTarget(effective_from=JAN, threshold=400.0, warn_at=350.0),
        ScheduledTarget(effective_from=FEB, threshold=300.0),
    )
    assert schedule.entries[1].effective_from.tzinfo is UTC
    assert validate_schedule(BELOW, []).entries == ()


def errors_of(base: ShapeParams, entries: object) -> dict[str, str]:
    with pytest.raises(ScheduleInvalid) as caught:
        validate_schedule(base, entries)
    return caught.value.errors


def test_a_warning_band_on_the_wrong_side_is_refused_naming_the_entry() -> None:
    errors = errors_of(
        BELOW,
        [
            {"effective_from": "2027-01-01T00:00:00Z", "threshold": 400},
            {"effective_from": "2027-02-01T00:00:00Z", "threshold": 300, "warn_at": 350},
        ],
    )
    assert errors == {"1.warn_at": "warn_at must be below the ceiling (threshold) for stay_below"}
    assert (
        "warn_at must be above the floor"
        in errors_of(
            ABOVE, [{"effective_from": "2027-01-01T00:00:00Z", "threshold": 99, "warn_at": 98}]
        )["0.warn_at"]
    )


def test_lower_above_upper_and_a_too_wide_margin_are_refused() -> None:
    assert errors_of(BETWEEN, [{"effective_from": JAN, "lower": 8, "upper": 4}]) == {
        "0.upper": "upper must be >= lower"
    }
    assert (
        "too wide"
        in errors_of(BETWEEN, [{"effective_from": JAN, "lower": 4, "upper": 8, "warn_margin": 3}])[
            "0.warn_margin"
        ]
    )


def test_a_missing_required_parameter_is_refused() -> None:
    assert errors_of(ABOVE, [{"effective_from": JAN}]) == {
        "0.threshold": "threshold is required for stay_above"
    }
    assert "0.baseline" in errors_of(TREND, [{"effective_from": JAN, "warn_margin": 1}])


def test_two_entries_at_the_same_instant_are_refused_whatever_their_offsets() -> None:
    errors = errors_of(
        ABOVE,
        [
            {"effective_from": "2027-01-01T00:00:00Z", "threshold": 98},
            {"effective_from": "2027-01-01T01:00:00+01:00", "threshold": 97},
        ],
    )
    assert errors == {"1.effective_from": "entry 0 already starts at this instant"}


def test_parameters_of_another_shape_and_unknown_fields_are_refused() -> None:
    errors = errors_of(
        BETWEEN, [{"effective_from": JAN, "lower": 3, "upper": 7, "threshold": 5, "shape": "x"}]
    )
    assert errors["0.threshold"].startswith("does not apply to stay_between")
    assert errors["0.shape"].startswith("unknown field")
    assert "0.baseline" in errors_of(ROLLING, [{"effective_from": JAN, "baseline": 1}])
    # A prior-period trend schedules only its margin.
    assert validate_schedule(ROLLING, [{"effective_from": JAN, "warn_margin": 2}]).entries == (
        ScheduledTarget(effective_from=JAN, warn_margin=2.0),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2027-01-01T00:00:00", "must include a time zone offset"),
        (datetime(2027, 1, 1), "must include a time zone offset"),
        ("1 Jan 2027", "must be an ISO 8601 date-time"),
        (None, "is required"),
        (1798761600, "is required"),
        ("1969-12-31T23:59:59Z", "between 1970 and 2999"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
    ],
)
def test_bad_times_are_refused(raw: object, message: str) -> None:
    errors = errors_of(ABOVE, [{"effective_from": raw, "threshold": 1}])
    assert message in errors["0.effective_from"]


@pytest.mark.parametrize("bad", [True, "12", float("nan"), float("inf")])
def test_bad_numbers_are_refused(bad: object) -> None:
    errors = errors_of(ABOVE, [{"effective_from": JAN, "threshold": bad}])
    assert errors == {"0.threshold": "threshold must be a finite number"}


def test_a_schedule_must_be_a_short_list_of_objects() -> None:
    assert errors_of(ABOVE, {"effective_from": JAN}) == {"targets": "must be a list of entries"}
    assert errors_of(ABOVE, ["x"]) == {"0": "each entry must be an object"}
    too_many = [{"effective_from": JAN + timedelta(days=n), "threshold": 1} for n in range(101)]
    assert errors_of(ABOVE, too_many) == {
        "targets": f"at most {MAX_ENTRIES} entries; this schedule has 101"
    }
    assert len(validate_schedule(ABOVE, too_many[:MAX_ENTRIES])) == MAX_ENTRIES


def test_every_bad_entry_is_reported_at_once() -> None:
    errors = errors_of(BELOW, [{"effective_from": "x", "threshold": 1}, {"effective_from": JAN}])
    assert set(errors) == {"0.effective_from", "1.threshold"}


UNITS: dict[str, Any] = {"unit_type": "time", "unit_label": "ms", "display_format": "integer"}


def test_the_phrase_shows_the_target_in_force_and_the_next_change() -> None:
    now = datetime(2026, 12, 10, tzinfo=UTC)
    assert (
        schedule_phrase(BELOW, ENTRIES, now, **UNITS, locale="en_GB")
        == "stay below 500 ms · 400 ms from 1 Jan 2027"
    )
    in_jan = datetime(2027, 1, 10, tzinfo=UTC)
    assert (
        schedule_phrase(BELOW, ENTRIES, in_jan, **UNITS) == "stay below 400 ms · 300 ms from Feb 1"
    )
    assert schedule_phrase(BELOW, ENTRIES, FEB, **UNITS) == "stay below 300 ms"
    assert schedule_phrase(BELOW, (), FEB, **UNITS) == "stay below 500 ms"


def test_the_phrase_dates_the_change_in_the_orgs_zone_and_locale() -> None:
    now = datetime(2027, 1, 10, tzinfo=UTC)
    # 1 Feb 00:00 UTC is still 31 Jan in New York.
    assert schedule_phrase(
        BELOW, ENTRIES, now, **UNITS, locale="de_DE", zone=ZoneInfo("America/New_York")
    ).endswith("300 ms from 31. Jan.")
    assert schedule_phrase(
        BELOW, ENTRIES, now, **UNITS, zone=timezone(timedelta(hours=2))
    ).endswith("from Feb 1")


def test_the_phrase_names_what_changes_for_each_shape() -> None:
    now = JAN
    soon = JAN + timedelta(days=1)
    band_only = [ScheduledTarget(effective_from=soon, threshold=500.0, warn_at=480.0)]
    assert schedule_phrase(BELOW, band_only, now, **UNITS).endswith(
        "· at risk from 480 ms from Jan 2"
    )
    no_band = [ScheduledTarget(effective_from=soon, threshold=500.0)]
    assert schedule_phrase(BELOW, no_band, now, **UNITS).endswith("· no at-risk band from Jan 2")
    bounds = [ScheduledTarget(effective_from=soon, lower=4.0, upper=8.0)]
    assert (
        schedule_phrase(BETWEEN, bounds, now, unit_type="number")
        == "between 3.0 and 7.0 · 4.0 to 8.0 from Jan 2"
    )
    base = [ScheduledTarget(effective_from=soon, baseline=1_300_000.0)]
    assert schedule_phrase(TREND, base, now, unit_type="number").endswith(
        "· baseline 1,300,000.0 from Jan 2"
    )
    margin = [ScheduledTarget(effective_from=soon, warn_margin=2.0)]
    assert schedule_phrase(ROLLING, margin, now, unit_type="number") == (
        "trending up vs 7d ago · at-risk margin 2.0 from Jan 2"
    )


def test_as_dict_is_what_the_api_and_audit_show() -> None:
    entry = ScheduledTarget(
        effective_from=datetime(2027, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), threshold=1.0
    )
    assert entry.as_dict() == {
        "effective_from": "2027-01-01T00:00:00+00:00",
        "threshold": 1.0,
        "lower": None,
        "upper": None,
        "baseline": None,
        "warn_at": None,
        "warn_margin": None,
    }
