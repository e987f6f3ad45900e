"""Pull scheduling rules: interval bounds, capped exponential back-off, due checks, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.connectors.schedule import (
    BACKOFF_CAP_FACTOR,
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    IntervalError,
    backoff_factor,
    check_interval,
    due_lag,
    is_due,
    lease_deadline,
    lease_expired,
    next_pull_at,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("failures", "factor"),
    [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (50, 8), (10**9, 8)],
)
def test_backoff_doubles_per_failure_and_caps_at_eight_intervals(
    failures: int, factor: int
) -> None:
    assert backoff_factor(failures) == factor


def test_next_pull_after_success_is_one_interval_after_the_pull_started() -> None:
    assert next_pull_at(started_at=NOW, interval_seconds=900, consecutive_failures=0) == (
        NOW + timedelta(minutes=15)
    )


def test_next_pull_after_third_failure_waits_four_intervals() -> None:
    assert next_pull_at(started_at=NOW, interval_seconds=60, consecutive_failures=3) == (
        NOW + timedelta(minutes=4)
    )


@settings(max_examples=200, deadline=None)
@given(
    interval=st.integers(MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS),
    failures=st.integers(0, 10**6),
)
def test_retry_delay_is_between_one_and_eight_intervals(interval: int, failures: int) -> None:
    delay = next_pull_at(started_at=NOW, interval_seconds=interval, consecutive_failures=failures)
    assert timedelta(seconds=interval) <= delay - NOW
    assert delay - NOW <= timedelta(seconds=interval * BACKOFF_CAP_FACTOR)


@settings(max_examples=200, deadline=None)
@given(failures=st.integers(0, 1000))
def test_one_more_failure_never_shortens_the_wait(failures: int) -> None:
    assert backoff_factor(failures + 1) >= backoff_factor(failures)


@pytest.mark.parametrize(
    ("next_at", "leased_until", "due"),
    [
        (None, None, False),
        (NOW + SECOND, None, False),
        (NOW, None, True),
        (NOW - SECOND, None, True),
        (NOW - SECOND, NOW + SECOND, False),
        (NOW - SECOND, NOW, True),
        (NOW - SECOND, NOW - SECOND, True),
    ],
    ids=[
        "unscheduled",
        "not-yet",
        "exactly-now",
        "overdue",
        "leased",
        "lease-ends-now",
        "lease-expired",
    ],
)
def test_source_is_due_when_its_time_came_and_no_live_lease(
    next_at: datetime | None, leased_until: datetime | None, due: bool
) -> None:
    assert is_due(next_pull_at=next_at, leased_until=leased_until, now=NOW) is due


@pytest.mark.parametrize(
    ("leased_until", "expired"),
    [(None, True), (NOW - SECOND, True), (NOW, True), (NOW + SECOND, False)],
)
def test_lease_is_live_only_before_its_deadline(
    leased_until: datetime | None, expired: bool
) -> None:
    assert lease_expired(leased_until=leased_until, now=NOW) is expired


def test_lease_deadline_is_now_plus_lease_and_refuses_nonpositive_leases() -> None:
    assert lease_deadline(now=NOW, lease_seconds=30) == NOW + timedelta(seconds=30)
    with pytest.raises(ValueError, match="positive"):
        lease_deadline(now=NOW, lease_seconds=0)


@pytest.mark.parametrize(
    ("next_at", "lag"),
    [
        (None, timedelta(0)),
        (NOW + SECOND, timedelta(0)),
        (NOW, timedelta(0)),
        (NOW - 5 * SECOND, 5 * SECOND),
    ],
)
def test_due_lag_counts_only_time_past_due(next_at: datetime | None, lag: timedelta) -> None:
    assert due_lag(next_pull_at=next_at, now=NOW) == lag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(60, 60), (900, 900), (120.0, 120), (MAX_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS)],
)
def test_interval_accepts_whole_seconds_from_one_minute_to_seven_days(
    raw: object, expected: int
) -> None:
    assert check_interval(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (59, "at least 60 seconds"),
        (0, "at least 60 seconds"),
        (-900, "at least 60 seconds"),
        (MAX_INTERVAL_SECONDS + 1, "at most"),
        (90.5, "whole number"),
        ("900", "whole number"),
        (True, "whole number"),
        (None, "whole number"),
        (float("nan"), "whole number"),
        (float("inf"), "whole number"),
    ],
)
def test_interval_outside_the_rules_is_refused_with_a_reason(raw: object, message: str) -> None:
    with pytest.raises(IntervalError, match=message):
        check_interval(raw)
