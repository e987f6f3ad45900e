"""Durations as admins type them ("15m", "1h", "7d", "1y") and elapsed time as people read it.

Owns the duration grammar shared by ``expected_every``, ``compare_period`` and
``baseline_period``, its canonical short form, and the "3 h ago" phrasing.
Pure: no I/O and no clock; ``now`` is always an argument.

Decisions:
- Grammar: a whole, positive number followed by a unit, spaces allowed,
  unit case-insensitive: s/sec/second(s), m/min/minute(s), h/hr/hour(s),
  d/day(s), w/wk/week(s), y/yr/year(s). A year is 365 days. A bare capital
  ``M`` is rejected because people mean months as often as minutes.
- Zero, negative, fractional and over-long (more than 100 years) durations
  are rejected with a message that says what to type instead.
- The canonical form uses the largest of d, h, m, s that divides the span
  exactly; days are never promoted to weeks or years, because the product
  speaks in days ("vs 30d ago"). So "1w" -> "7d" and "1y" -> "365d".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MAX_DURATION = timedelta(days=36500)

_UNIT_SECONDS: dict[str, int] = {}
for _names, _seconds in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "wk", "wks", "week", "weeks"), 7 * 86400),
    (("y", "yr", "yrs", "year", "years"), 365 * 86400),
):
    for _name in _names:
        _UNIT_SECONDS[_name] = _seconds

# ASCII digits only: \d also accepts other scripts' digits (Arabic-Indic,
# Devanagari …), which int() would then silently read.
_DURATION_RE = re.compile(r"^\s*([+-]?)\s*([0-9]+)\s*([A-Za-z]*)\s*$")
_MAX_DIGITS = 12
_HINT = "use a whole number and a unit (s, m, h, d, w, y) such as 15m, 1h or 7d"
_CANONICAL_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class DurationError(ValueError):
    """The text is not a positive duration; ``str(error)`` says what to type instead."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def parse_duration(text: str) -> timedelta:
    """Parse "15m", "1h", "7d", "2w", "1y", "90s" … into a positive ``timedelta``."""
    if not isinstance(text, str):
        raise DurationError(f"duration must be text; {_HINT}")
    if not text.strip():
        raise DurationError(f"duration is empty; {_HINT}")
    match = _DURATION_RE.match(text)
    if match is None:
        raise DurationError(f"{_shown(text)} is not a duration; {_HINT}")
    sign, digits, unit = match.groups()
    if not unit:
        raise DurationError(f"{_shown(text)} has no unit; {_HINT}")
    if unit == "M":
        raise DurationError("'M' is ambiguous: use 'min' for minutes, or days (30d) for a month")
    seconds_per_unit = _UNIT_SECONDS.get(unit.lower())
    if seconds_per_unit is None:
        raise DurationError(f"unknown duration unit {_shown(unit)}; {_HINT}")
    if sign == "-":
        raise DurationError("duration must be greater than zero")
    # Bounded digit count keeps int() clear of Python's huge-integer guard.
    significant = digits.lstrip("0")
    if not significant:
        raise DurationError("duration must be greater than zero")
    seconds = int(significant) * seconds_per_unit if len(significant) <= _MAX_DIGITS else None
    if seconds is None or seconds > MAX_DURATION.total_seconds():
        raise DurationError("duration must be at most 100y")
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """The canonical short form: "7d", "1h", "15m", "90s" -> "90s", "1w" -> "7d".

    Sub-second remainders round to the nearest second; zero is "0s" and a
    negative span gets a leading "-" so the function is total.
    """
    total = span.days * 86400 + span.seconds + round(span.microseconds / 1_000_000)
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total == 0:
        return "0s"
    for unit, seconds in _CANONICAL_UNITS:
        if total % seconds == 0:
            return f"{sign}{total // seconds}{unit}"
    return f"{sign}{total}s"


def elapsed(then: datetime, now: datetime) -> timedelta:
    """``now - then``, reading a naive datetime as UTC so mixed inputs never raise."""
    return _aware(now) - _aware(then)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def humanize_ago(then: datetime, now: datetime) -> str:
    """ "just now" under a minute (and for timestamps in the future, i.e. clock skew),
    then whole minutes, hours or days, rounded down: "5 min ago", "3 h ago", "3 d ago".
    """
    seconds = elapsed(then, now).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"
