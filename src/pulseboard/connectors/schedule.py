"""When a pull source is due next, how far it backs off after failures, and lease expiry.

Pure: no Django, no I/O, no clock; ``now`` is always an argument. The runner and the
"Pull now" path ask this module every scheduling question so the rules of DESIGN.md §6
(interval default 15 min, minimum 1 min; exponential back-off on failure capped at
8 x the interval; a crashed worker's lease expires) live in one place.

Rules decided here:
- the next pull is counted from the *start* of the pull that just finished, so a source
  keeps its cadence however long a pull takes;
- after the n-th consecutive failure the delay is ``interval * 2^(n-1)``, capped at
  ``interval * 8``: the first retry comes one interval later (as if nothing failed),
  then 2, 4, and 8 intervals for every failure after that;
- a lease is live while ``now < leased_until``; at ``leased_until`` it has expired and
  another worker may claim the source;
- the longest interval is 7 days: a longer one is a source nobody would notice failing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

MIN_INTERVAL_SECONDS: Final = 60
DEFAULT_INTERVAL_SECONDS: Final = 900
MAX_INTERVAL_SECONDS: Final = 7 * 24 * 3600
BACKOFF_CAP_FACTOR: Final = 8


class IntervalError(ValueError):
    """A pull interval outside the allowed range; the message says what is allowed."""


def check_interval(seconds: object) -> int:
    """``seconds`` as a valid pull interval, or ``IntervalError`` saying why not."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise IntervalError("the interval must be a whole number of seconds")
    if isinstance(seconds, float) and not seconds.is_integer():
        raise IntervalError("the interval must be a whole number of seconds")
    whole = int(seconds)
    if whole < MIN_INTERVAL_SECONDS:
        raise IntervalError(
            f"the interval must be at least {MIN_INTERVAL_SECONDS} seconds (1 minute)"
        )
    if whole > MAX_INTERVAL_SECONDS:
        raise IntervalError(f"the interval must be at most {MAX_INTERVAL_SECONDS} seconds (7 days)")
    return whole


def backoff_factor(consecutive_failures: int) -> int:
    """How many intervals to wait after ``consecutive_failures`` failures in a row."""
    if consecutive_failures <= 0:
        return 1
    # min() before the power: a source failing for months must not build a huge int.
    exponent = min(consecutive_failures - 1, BACKOFF_CAP_FACTOR.bit_length() - 1)
    return min(2**exponent, BACKOFF_CAP_FACTOR)


def next_pull_at(
    *, started_at: datetime, interval_seconds: int, consecutive_failures: int
) -> datetime:
    """When to pull again, given the start of the pull just done and the failure count after it.

    ``consecutive_failures`` is 0 after a success.
    """
    factor = backoff_factor(consecutive_failures)
    return started_at + timedelta(seconds=interval_seconds * factor)


def lease_expired(*, leased_until: datetime | None, now: datetime) -> bool:
    """Whether nobody holds the source any more (never leased, released, or lease ran out)."""
    return leased_until is None or leased_until <= now


def is_due(*, next_pull_at: datetime | None, leased_until: datetime | None, now: datetime) -> bool:
    """Whether a worker may claim the source now: scheduled, time reached, no live lease."""
    if next_pull_at is None:
        return False
    return next_pull_at <= now and lease_expired(leased_until=leased_until, now=now)


def lease_deadline(*, now: datetime, lease_seconds: float) -> datetime:
    """Until when a claim made at ``now`` keeps other workers away."""
    if lease_seconds <= 0:
        raise ValueError("lease_seconds must be positive")
    return now + timedelta(seconds=lease_seconds)


def due_lag(*, next_pull_at: datetime | None, now: datetime) -> timedelta:
    """How late a source is: time since it became due, zero when not yet due or unscheduled."""
    if next_pull_at is None or next_pull_at >= now:
        return timedelta(0)
    return now - next_pull_at
