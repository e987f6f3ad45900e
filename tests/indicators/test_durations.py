"""Duration grammar, canonical form and "ago" phrasing (indicators/durations.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.indicators.durations import (
    DurationError,
    elapsed,
    format_duration,
    humanize_ago,
    parse_duration,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("15min", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("90d", timedelta(days=90)),
        ("1w", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1y", timedelta(days=365)),
        ("365d", timedelta(days=365)),
        ("90s", timedelta(seconds=90)),
        (" 7 d ", timedelta(days=7)),
        ("7D", timedelta(days=7)),
        ("1H", timedelta(hours=1)),
        ("2 weeks", timedelta(days=14)),
        ("1hr", timedelta(hours=1)),
        ("10 seconds", timedelta(seconds=10)),
        ("3 days", timedelta(days=3)),
        ("007d", timedelta(days=7)),
        ("+1h", timedelta(hours=1)),
        ("100y", timedelta(days=36500)),
    ],
)
def test_parse_duration_reads_number_and_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "duration is empty"),
        ("   ", "duration is empty"),
        ("0d", "duration must be greater than zero"),
        ("000h", "duration must be greater than zero"),
        ("-1d", "duration must be greater than zero"),
        ("- 7d", "duration must be greater than zero"),
        ("7", "'7' has no unit"),
        ("1.5h", "'1.5h' is not a duration"),
        ("h", "'h' is not a duration"),
        ("7d 1h", "'7d 1h' is not a duration"),
        ("7x", "unknown duration unit 'x'"),
        ("3 months", "unknown duration unit 'months'"),
        ("1M", "'M' is ambiguous"),
        ("101y", "duration must be at most 100y"),
        ("36501d", "duration must be at most 100y"),
        ("9" * 50 + "d", "duration must be at most 100y"),
        ("9" * 5000 + "s", "duration must be at most 100y"),
        ("\u0661h", "is not a duration"),
    ],
)
def test_parse_duration_rejects_bad_text_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert message in str(caught.value)


def test_parse_duration_error_suggests_what_to_type() -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration("soon")
    assert "such as 15m, 1h or 7d" in str(caught.value)


def test_parse_duration_shortens_long_input_in_its_message() -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration("x" * 500)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("value", [None, 7, 7.0, b"7d", ["7d"]])
def test_parse_duration_rejects_non_text(value: object) -> None:
    with pytest.raises(DurationError, match="duration must be text"):
        parse_duration(value)  # type: ignore[arg-type]


def test_duration_error_is_a_value_error() -> None:
    assert issubclass(DurationError, ValueError)


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (timedelta(days=7), "7d"),
        (timedelta(hours=1), "1h"),
        (timedelta(minutes=15), "15m"),
        (timedelta(seconds=90), "90s"),
        (timedelta(seconds=120), "2m"),
        (timedelta(hours=25), "25h"),
        (timedelta(hours=48), "2d"),
        (timedelta(weeks=1), "7d"),
        (timedelta(days=365), "365d"),
        (timedelta(seconds=1, milliseconds=400), "1s"),
        (timedelta(milliseconds=600), "1s"),
        (timedelta(0), "0s"),
        (timedelta(hours=-1), "-1h"),
        (timedelta(days=-7), "-7d"),
    ],
)
def test_format_duration_uses_largest_exact_unit_up_to_days(span: timedelta, expected: str) -> None:
    assert format_duration(span) == expected


@pytest.mark.parametrize("text", ["1w", "2 weeks", "1y", "90s", "60m", "24h", " 7 D "])
def test_format_duration_is_canonical_for_parsed_text(text: str) -> None:
    canonical = format_duration(parse_duration(text))
    assert format_duration(parse_duration(canonical)) == canonical


units = st.sampled_from(["s", "sec", "m", "min", "h", "hours", "d", "days", "w", "y"])


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(min_value=1, max_value=100), unit=units)
def test_format_then_parse_round_trips(amount: int, unit: str) -> None:
    span = parse_duration(f"{amount}{unit}")
    assert parse_duration(format_duration(span)) == span


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=30))
def test_parse_duration_only_ever_raises_duration_error(text: str) -> None:
    try:
        span = parse_duration(text)
    except DurationError:
        return
    assert timedelta(0) < span <= timedelta(days=36500)


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),
        (timedelta(hours=-5), "just now"),
        (timedelta(seconds=60), "1 min ago"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(minutes=59, seconds=59), "59 min ago"),
        (timedelta(hours=1), "1 h ago"),
        (timedelta(hours=3, minutes=50), "3 h ago"),
        (timedelta(hours=23, minutes=59), "23 h ago"),
        (timedelta(hours=24), "1 d ago"),
        (timedelta(days=3, hours=23), "3 d ago"),
        (timedelta(days=400), "400 d ago"),
    ],
)
def test_humanize_ago_rounds_down_to_minutes_hours_or_days(age: timedelta, expected: str) -> None:
    assert humanize_ago(NOW - age, NOW) == expected


def test_humanize_ago_reads_naive_datetimes_as_utc() -> None:
    naive = datetime(2025, 6, 1, 9, 0)
    assert humanize_ago(naive, NOW) == "3 h ago"


def test_elapsed_mixes_naive_and_aware_without_raising() -> None:
    assert elapsed(datetime(2025, 6, 1, 11, 0), NOW) == timedelta(hours=1)
    assert elapsed(NOW, datetime(2025, 6, 1, 13, 0)) == timedelta(hours=1)
