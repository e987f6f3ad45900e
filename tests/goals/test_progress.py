"""The rules of goals, DESIGN §11 (goals/progress.py): pure, no database."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulseboard.goals.progress import (
    MAX_ABS_VALUE,
    CycleState,
    CycleWindow,
    GoalStatus,
    cycle_dates_error,
    cycle_window,
    evaluate,
    expected_progress,
    holds,
    key_result_errors,
    local_today,
    number_error,
    objective_progress,
    objective_status,
    progress,
    status,
    status_words,
    weight_error,
)

ON, RISK, BEHIND = GoalStatus.ON_TRACK, GoalStatus.AT_RISK, GoalStatus.BEHIND
ACHIEVED, MISSED, UNKNOWN = GoalStatus.ACHIEVED, GoalStatus.MISSED, GoalStatus.UNKNOWN
Q1 = cycle_window(date(2027, 1, 1), date(2027, 3, 31), "UTC")
finite = st.floats(allow_nan=False, allow_infinity=False)


# --- progress ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start", "target", "current", "expected"),
    [
        ("increase_to", 85, 92, 85, 0.0),
        ("increase_to", 85, 92, 88.5, 0.5),
        ("increase_to", 85, 92, 92, 1.0),
        ("increase_to", 85, 92, 99, 1.0),  # clamped at 1
        ("increase_to", 85, 92, 80, 0.0),  # clamped at 0
        ("increase_to", -10, 10, 0, 0.5),
        ("decrease_to", 4, 2, 4, 0.0),
        ("decrease_to", 4, 2, 3, 0.5),
        ("decrease_to", 4, 2, 2, 1.0),
        ("decrease_to", 4, 2, 1, 1.0),  # below the target: clamped at 1
        ("decrease_to", 4, 2, 5, 0.0),  # moved the wrong way: clamped at 0
        ("stay_above", None, 99.9, 99.9, 1.0),  # the target itself holds
        ("stay_above", None, 99.9, 99.95, 1.0),
        ("stay_above", None, 99.9, 99.89, 0.0),
        ("stay_below", None, 500, 500, 1.0),
        ("stay_below", None, 500, 380, 1.0),
        ("stay_below", None, 500, 501, 0.0),
        ("stay_above", 5, 10, 12, 1.0),  # stay kinds ignore the start
    ],
)
def test_progress_by_kind(
    kind: str, start: float | None, target: float, current: float, expected: float
) -> None:
    assert progress(kind, start, target, current) == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["increase_to", "decrease_to", "stay_above", "stay_below"])
def test_no_value_yet_has_no_progress(kind: str) -> None:
    assert progress(kind, 1, 2, None) is None


@pytest.mark.parametrize("current", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_finite_has_no_progress(current: float) -> None:
    assert progress("increase_to", 0, 10, current) is None


def test_progress_near_the_float_limit_does_not_overflow() -> None:
    big = 1.7e308
    assert progress("increase_to", -big, big, 0.0) == pytest.approx(0.5)
    assert progress("increase_to", -big, big, big) == 1.0


@given(start=finite, target=finite, current=finite)
def test_progress_is_always_clamped_to_zero_one(
    start: float, target: float, current: float
) -> None:
    for kind in ("increase_to", "decrease_to", "stay_above", "stay_below"):
        value = progress(kind, start, target, current)
        assert value is not None and 0.0 <= value <= 1.0


@given(
    start=st.floats(-1e12, 1e12),
    gap=st.floats(1e-3, 1e12),
    current=st.floats(-1e13, 1e13),
)
def test_increase_and_decrease_mirror_each_other(start: float, gap: float, current: float) -> None:
    up = progress("increase_to", start, start + gap, current)
    down = progress("decrease_to", -start, -start - gap, -current)
    assert up == pytest.approx(down, abs=1e-9)


@given(start=st.floats(-1e9, 1e9), gap=st.floats(1e-3, 1e9), a=finite, b=finite)
def test_progress_never_falls_when_the_value_moves_towards_the_target(
    start: float, gap: float, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    assert progress("increase_to", start, start + gap, low) <= progress(  # type: ignore[operator]
        "increase_to", start, start + gap, high
    )


@given(target=finite, current=finite)
def test_stay_kinds_are_zero_or_one(target: float, current: float) -> None:
    assert progress("stay_above", None, target, current) in (0.0, 1.0)
    assert progress("stay_below", None, target, current) in (0.0, 1.0)
    assert holds("stay_above", target, current) == (current >= target)
    assert holds("stay_below", target, current) == (current <= target)


# --- expected progress and cycles ---------------------------------------------------------


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected", "state"),
    [
        (at(2026, 12, 31, 23, 59), 0.0, CycleState.UPCOMING),
        (at(2027, 1, 1), 0.0, CycleState.ACTIVE),
        (at(2027, 2, 15), 45 / 90, CycleState.ACTIVE),
        (at(2027, 3, 31, 12), 89.5 / 90, CycleState.ACTIVE),  # the end date is inclusive
        (at(2027, 4, 1), 1.0, CycleState.CLOSED),
        (at(2028, 1, 1), 1.0, CycleState.CLOSED),
    ],
)
def test_expected_progress_is_the_elapsed_fraction(
    now: datetime, expected: float, state: CycleState
) -> None:
    assert expected_progress("increase_to", Q1, now) == pytest.approx(expected)
    assert expected_progress("decrease_to", Q1, now) == pytest.approx(expected)
    assert Q1.state(now) == state


@pytest.mark.parametrize("now", [at(2026, 6, 1), at(2027, 2, 1), at(2027, 6, 1)])
def test_stay_kinds_expect_one_at_any_time(now: datetime) -> None:
    assert expected_progress("stay_above", Q1, now) == 1.0
    assert expected_progress("stay_below", Q1, now) == 1.0


def test_cycle_boundaries_are_midnights_in_the_orgs_timezone() -> None:
    window = cycle_window(date(2027, 1, 1), date(2027, 3, 31), "America/New_York")
    assert window.starts_at == at(2027, 1, 1, 5)  # 00:00 EST
    assert window.ends_at == at(2027, 4, 1, 4)  # 00:00 EDT the day after the end
    # 23:30 on 31 March in New York is still inside the cycle; in UTC it is 1 April.
    assert window.state(at(2027, 4, 1, 3, 30)) == CycleState.ACTIVE
    assert window.state(at(2027, 4, 1, 4)) == CycleState.CLOSED
    assert window.state(at(2027, 1, 1, 4, 59)) == CycleState.UPCOMING
    tokyo = cycle_window(date(2027, 1, 1), date(2027, 1, 1), "Asia/Tokyo")
    assert tokyo.starts_at == at(2026, 12, 31, 15)
    assert tokyo.state(at(2026, 12, 31, 16)) == CycleState.ACTIVE


def test_a_daylight_saving_day_counts_the_hours_it_has() -> None:
    # 14 March 2027 is 23 hours long in New York.
    window = cycle_window(date(2027, 3, 14), date(2027, 3, 14), "America/New_York")
    assert window.ends_at - window.starts_at == timedelta(hours=23)
    assert window.elapsed(window.starts_at + timedelta(hours=11.5)) == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../../etc/passwd", "UTC\x00"])
def test_an_unknown_timezone_reads_as_utc(name: str) -> None:
    window = cycle_window(date(2027, 1, 1), date(2027, 1, 31), name)
    assert window.starts_at == at(2027, 1, 1)


def test_a_one_day_cycle_and_local_today() -> None:
    window = cycle_window(date(2027, 5, 5), date(2027, 5, 5), "UTC")
    assert window.elapsed(at(2027, 5, 5, 6)) == pytest.approx(0.25)
    assert local_today(at(2027, 5, 5, 23), "Asia/Tokyo") == date(2027, 5, 6)


def test_a_degenerate_window_is_total() -> None:
    empty = CycleWindow(at(2027, 1, 1), at(2027, 1, 1))
    assert empty.elapsed(at(2026, 1, 1)) == 0.0
    assert empty.elapsed(at(2027, 1, 1)) == 1.0


# --- status -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "result"),
    [
        (0.3, 0.4, ON),  # exactly expected - 0.10 (0.4 - 0.1 is 0.30000000000000004 in floats)
        (0.2999, 0.4, RISK),
        (0.15, 0.4, RISK),  # exactly expected - 0.25
        (0.1499, 0.4, BEHIND),
        (0.6, 0.7, ON),
        (0.45, 0.7, RISK),
        (0.4499, 0.7, BEHIND),
        (0.0, 0.0, ON),  # before the cycle starts nothing is expected
        (0.0, 0.1, ON),
        (0.0, 0.1001, RISK),
        (0.0, 0.25, RISK),
        (0.0, 0.2501, BEHIND),
        (1.0, 1.0, ON),
        (0.9, 1.0, ON),
        (0.75, 1.0, RISK),
        (0.0, 1.0, BEHIND),  # a stay kind that does not hold
        (1.0, 0.2, ON),  # ahead of schedule
    ],
)
def test_status_margins_while_the_cycle_runs(
    value: float, expected: float, result: GoalStatus
) -> None:
    assert status(value, expected, closed=False) == result


@pytest.mark.parametrize(("a", "b"), [(0.7, 0.4), (1.4, 0.4), (0.3, 0.2)])
def test_boundaries_computed_from_values_are_not_flipped_by_float_noise(a: float, b: float) -> None:
    # (a - b) / 1.0 is a hair below the decimal result in floats; a user sees exactly it.
    value = progress("increase_to", b, b + 1.0, a)
    exact = round(a - b, 6)
    assert status(value, exact + 0.10, closed=False) == ON
    assert status(value, exact + 0.25, closed=False) == RISK


@pytest.mark.parametrize(
    ("value", "result"), [(1.0, ACHIEVED), (0.999, MISSED), (0.0, MISSED), (None, UNKNOWN)]
)
def test_status_after_the_cycle_closes(value: float | None, result: GoalStatus) -> None:
    assert status(value, 1.0, closed=True) == result


def test_no_value_is_unknown_while_running() -> None:
    assert status(None, 0.5, closed=False) == UNKNOWN


def test_evaluate_ties_progress_expectation_and_state() -> None:
    mid = at(2027, 2, 15)
    running = evaluate(kind="increase_to", start=0, target=100, current=30, window=Q1, now=mid)
    assert (running.progress, running.status, running.state) == (0.3, RISK, CycleState.ACTIVE)
    assert running.expected == pytest.approx(0.5)
    after = at(2027, 4, 2)
    closed = evaluate(kind="increase_to", start=0, target=100, current=100, window=Q1, now=after)
    assert (closed.status, closed.state, closed.expected) == (ACHIEVED, CycleState.CLOSED, 1.0)
    stay = evaluate(kind="stay_below", start=None, target=500, current=600, window=Q1, now=mid)
    assert (stay.progress, stay.expected, stay.status) == (0.0, 1.0, BEHIND)
    upcoming = evaluate(
        kind="decrease_to", start=4, target=2, current=4, window=Q1, now=at(2026, 12, 1)
    )
    assert (upcoming.status, upcoming.state) == (ON, CycleState.UPCOMING)


# --- objectives ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([(0.5, 1.0), (1.0, 1.0)], 0.75),
        ([(0.0, 3.0), (1.0, 1.0)], 0.25),  # weights
        ([(0.4, 2.0), (None, 5.0)], 0.4),  # a key result without a value does not count
        ([(None, 1.0)], None),
        ([], None),
        ([(1.0, 0.0)], None),
    ],
)
def test_objective_progress_is_the_weighted_mean_of_krs_with_a_value(
    parts: list[tuple[float | None, float]], expected: float | None
) -> None:
    assert objective_progress(parts) == (pytest.approx(expected) if expected is not None else None)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.001, 1000)), min_size=1))
def test_objective_progress_stays_between_its_krs(parts: list[tuple[float, float]]) -> None:
    value = objective_progress(parts)
    assert value is not None
    assert min(p for p, _ in parts) - 1e-9 <= value <= max(p for p, _ in parts) + 1e-9


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["on_track", "at_risk"], RISK),
        (["on_track", "behind", "at_risk"], BEHIND),
        (["on_track", "unknown"], ON),  # unknown is ignored
        (["unknown", "unknown"], UNKNOWN),
        ([], UNKNOWN),
        (["achieved", "missed"], MISSED),
        (["achieved", "unknown"], ACHIEVED),
        (["achieved", "on_track"], ON),
    ],
)
def test_objective_status_is_the_worst_of_its_krs(
    statuses: list[str], expected: GoalStatus
) -> None:
    assert objective_status(statuses) == expected


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start", "target", "field", "words"),
    [
        ("increase_to", 5, 5, "target_value", "nothing to move"),
        ("decrease_to", 5, 5, "target_value", "nothing to move"),
        ("increase_to", 5, 4, "target_value", "above start_value"),
        ("decrease_to", 4, 5, "target_value", "below start_value"),
        ("increase_to", None, 5, "start_value", "required"),
        ("stay_above", None, None, "target_value", "required"),
        ("grow_to", 1, 2, "kind", "increase_to, decrease_to, stay_above, stay_below"),
        ("", 1, 2, "kind", "kind must be one of"),
    ],
)
def test_key_result_errors(
    kind: str, start: float | None, target: float | None, field: str, words: str
) -> None:
    errors = key_result_errors(kind, start, target)
    assert words in errors[field]


@pytest.mark.parametrize(
    ("kind", "start", "target"),
    [
        ("increase_to", 85, 92),
        ("decrease_to", 4, 2),
        ("stay_above", None, 99.9),
        ("stay_below", 7, 500),  # a stay kind's start is ignored
        ("increase_to", -5, -1),
    ],
)
def test_key_result_errors_accepts_sound_kinds(
    kind: str, start: float | None, target: float
) -> None:
    assert key_result_errors(kind, start, target) == {}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (math.nan, "finite"),
        (math.inf, "finite"),
        ("Infinity", "finite"),
        ("NaN", "finite"),
        (1e300, "between"),
        (-MAX_ABS_VALUE * 10, "between"),
        (True, "must be a number"),
        ("twelve", "must be a number"),
        ([1], "must be a number"),
        (None, "required"),
    ],
)
def test_number_error_refuses_what_is_not_a_usable_number(raw: object, words: str) -> None:
    value, error = number_error("value", raw)
    assert value is None and error is not None and words in error


@pytest.mark.parametrize(("raw", "value"), [(12, 12.0), ("12.5", 12.5), (-MAX_ABS_VALUE, -1e15)])
def test_number_error_takes_numbers(raw: object, value: float) -> None:
    assert number_error("value", raw) == (value, None)


@pytest.mark.parametrize(
    ("raw", "value", "ok"),
    [(None, 1.0, True), (2, 2.0, True), (0, 1.0, False), (-1, 1.0, False), (1001, 1.0, False)],
)
def test_weight(raw: object, value: float, ok: bool) -> None:
    weight, error = weight_error(raw)
    assert weight == value and (error is None) == ok


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "field"),
    [
        (date(2027, 3, 31), date(2027, 1, 1), "ends_on"),
        (date(1969, 12, 31), date(2027, 1, 1), "starts_on"),
        (date(2027, 1, 1), date(9999, 12, 31), "ends_on"),
    ],
)
def test_cycle_dates_error(starts_on: date, ends_on: date, field: str) -> None:
    assert field in cycle_dates_error(starts_on, ends_on)


def test_a_one_day_cycle_is_allowed() -> None:
    assert cycle_dates_error(date(2027, 1, 1), date(2027, 1, 1)) == {}


def test_every_status_has_words_and_an_icon() -> None:
    for value in GoalStatus:
        words, icon = status_words(value)
        assert words and icon
    assert status_words("nonsense")[0] == "No data"
