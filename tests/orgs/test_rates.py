"""Rates and fixed windows (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulseboard.orgs.rates import Rate, parse_rate, retry_after, window_start


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("120/minute", Rate(120, 60)),
        ("120/minutes", Rate(120, 60)),
        ("5/s", Rate(5, 1)),
        ("5 / SEC", Rate(5, 1)),
        ("10/min", Rate(10, 60)),
        ("1000/hour", Rate(1000, 3600)),
        ("3/hrs", Rate(3, 3600)),
        ("1/day", Rate(1, 86400)),
    ],
)
def test_parse_rate_reads_count_and_period(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    "text", ["", "120", "minute", "0/minute", "-1/minute", "1.5/minute", "10/ms", "10/fortnight",
             "1/m/s", "9999999999/minute"],
)  # fmt: skip
def test_parse_rate_rejects_anything_else_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 120/minute|unknown period|at least one"):
        parse_rate(text)


def test_rate_prints_as_it_is_written() -> None:
    assert str(parse_rate("120/minutes")) == "120/minute"


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.sampled_from([1, 60, 3600, 86400]),
)
def test_window_holds_the_instant_and_retry_after_reaches_the_next(
    timestamp: float, period: int
) -> None:
    rate = Rate(10, period)
    start = window_start(timestamp, rate)
    assert start <= timestamp < start + period and start % period == 0
    wait = retry_after(timestamp, rate)
    assert 1 <= wait <= period
    assert window_start(timestamp + wait, rate) > start
