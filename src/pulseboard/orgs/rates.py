"""Pure: API write rates ("120/minute") and the fixed-window arithmetic behind them.

A rate is N requests per period. Windows are aligned to the Unix epoch (a
minute window starts at :00), so every process computes the same window for
the same instant without talking to the others; the counter itself lives in
the database (``orgs/rate_limit.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

PERIOD_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*([a-z]+)\s*$")
_HINT = "write it as N/second, N/minute, N/hour or N/day, e.g. 120/minute"


@dataclass(frozen=True)
class Rate:
    limit: int
    period_seconds: int

    def __str__(self) -> str:
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[self.period_seconds]
        return f"{self.limit}/{unit}"


def parse_rate(text: str) -> Rate:
    """``"120/minute"`` -> ``Rate(120, 60)``; ValueError with a hint for anything else."""
    match = _RATE.match(text.lower()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a rate; {_HINT}")
    limit, unit = int(match.group(1)), match.group(2)
    # A plural ("minutes") names the same period; "ms" is not "m" plus an s.
    if unit not in PERIOD_SECONDS and len(unit) > 2 and unit.endswith("s"):
        unit = unit[:-1]
    if unit not in PERIOD_SECONDS:
        raise ValueError(f"unknown period {unit!r}; {_HINT}")
    if limit < 1:
        raise ValueError(f"a rate must allow at least one request; {_HINT}")
    return Rate(limit=limit, period_seconds=PERIOD_SECONDS[unit])


def window_start(timestamp: float, rate: Rate) -> int:
    """The start (Unix seconds) of the window holding ``timestamp``."""
    return int(timestamp // rate.period_seconds) * rate.period_seconds


def retry_after(timestamp: float, rate: Rate) -> int:
    """Whole seconds until the next window opens (at least 1, as Retry-After wants)."""
    end = window_start(timestamp, rate) + rate.period_seconds
    return max(1, math.ceil(end - timestamp))
