"""The rules of goals (DESIGN §11): key result kinds, progress, expected progress, status,
objective roll-up and a cycle's state, computed in the organization's timezone.

Owns the goal vocabulary (``KrKind``, ``GoalStatus``, ``CycleState``) that models,
schemas, forms and templates derive from, and the checks on a key result's numbers
that the services, the API and the web forms share. Pure: no Django, no I/O, no
clock (``now`` is always an argument); every function is total.

Decisions:
- A cycle runs from 00:00 on ``starts_on`` to 00:00 the day after ``ends_on``
  (the end date is inclusive), both in the organization's timezone. Elapsed
  time is measured between those two instants, so a daylight-saving day counts
  as the 23 or 25 hours it lasts. An unknown timezone name reads as UTC.
- Status margins compare with a tolerance of one billionth (``EPSILON``): a
  progress of exactly ``expected - 0.10`` is on track even when float
  arithmetic makes 0.4 - 0.1 come out as 0.30000000000000004, and a value a
  user would call "exactly the boundary" never flips to the worse side.
- Progress divides halves ((current/2 - start/2) / (target/2 - start/2)), so
  values near the float limit never overflow to infinity; a result beyond
  [0, 1] is clamped.
- Objective status is the worst of its key results' statuses, ``unknown``
  ignored; from worst to best: missed, behind, at_risk, on_track, achieved.
- Numbers a person types (start, target, check-ins, weight) must be finite
  and at most ``MAX_ABS_VALUE`` in size: a quadrillion is more than any goal
  needs and keeps every sum and difference exact enough to mean something.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EPSILON = 1e-9
ON_TRACK_MARGIN = 0.10
AT_RISK_MARGIN = 0.25
MAX_ABS_VALUE = 1e15
MAX_WEIGHT = 1000.0
DEFAULT_WEIGHT = 1.0
# Dates outside this range cannot be turned into instants in every timezone.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(9998, 12, 31)


class KrKind(StrEnum):
    INCREASE_TO = "increase_to"
    DECREASE_TO = "decrease_to"
    STAY_ABOVE = "stay_above"
    STAY_BELOW = "stay_below"


KIND_VALUES = frozenset(k.value for k in KrKind)
STAY_KINDS = frozenset({KrKind.STAY_ABOVE, KrKind.STAY_BELOW})
KIND_LABELS: dict[KrKind, str] = {
    KrKind.INCREASE_TO: "Increase to",
    KrKind.DECREASE_TO: "Decrease to",
    KrKind.STAY_ABOVE: "Stay above",
    KrKind.STAY_BELOW: "Stay below",
}


class GoalStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BEHIND = "behind"
    ACHIEVED = "achieved"
    MISSED = "missed"
    UNKNOWN = "unknown"


# Each status in words, with an icon of its own: colour is never the only cue.
STATUS_WORDS: dict[GoalStatus, tuple[str, str]] = {
    GoalStatus.ON_TRACK: ("On track", "✔"),
    GoalStatus.AT_RISK: ("At risk", "▲"),
    GoalStatus.BEHIND: ("Behind", "✖"),
    GoalStatus.ACHIEVED: ("Achieved", "★"),
    GoalStatus.MISSED: ("Missed", "✖"),
    GoalStatus.UNKNOWN: ("No data", "?"),
}
# Worst first: an objective takes the lowest rank among its key results.
_RANK = {
    GoalStatus.MISSED: 0,
    GoalStatus.BEHIND: 1,
    GoalStatus.AT_RISK: 2,
    GoalStatus.ON_TRACK: 3,
    GoalStatus.ACHIEVED: 4,
}


class CycleState(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(frozen=True)
class CycleWindow:
    """A cycle as two instants: its first moment and the first moment after it."""

    starts_at: datetime
    ends_at: datetime

    def state(self, now: datetime) -> CycleState:
        if now < self.starts_at:
            return CycleState.UPCOMING
        if now < self.ends_at:
            return CycleState.ACTIVE
        return CycleState.CLOSED

    def elapsed(self, now: datetime) -> float:
        """The elapsed fraction of the cycle at ``now``: 0 before it, 1 after it."""
        total = (self.ends_at - self.starts_at).total_seconds()
        if total <= 0 or now >= self.ends_at:
            return 1.0 if now >= self.starts_at else 0.0
        if now <= self.starts_at:
            return 0.0
        return min(1.0, max(0.0, (now - self.starts_at).total_seconds() / total))


def zone(name: str) -> tzinfo:
    """The named IANA timezone; UTC for an empty or unknown name."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC


def cycle_window(starts_on: date, ends_on: date, timezone: str) -> CycleWindow:
    """The instants a cycle of these dates spans in ``timezone`` (the end date inclusive)."""
    tz = zone(timezone)
    first = min(max(starts_on, EARLIEST_DATE), LATEST_DATE)
    last = min(max(ends_on, first), LATEST_DATE)
    return CycleWindow(
        starts_at=datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC),
        ends_at=datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC),
    )


def local_today(now: datetime, timezone: str) -> date:
    """Today's date in ``timezone``."""
    return now.astimezone(zone(timezone)).date()


def holds(kind: str, target: float, current: float) -> bool:
    """Whether ``current`` holds a stay kind's target (the target itself holds)."""
    if kind == KrKind.STAY_BELOW:
        return current <= target
    return current >= target


def progress(kind: str, start: float | None, target: float, current: float | None) -> float | None:
    """Progress in [0, 1]; ``None`` without a current value."""
    if current is None or not math.isfinite(current) or not math.isfinite(target):
        return None
    if kind in STAY_KINDS:
        return 1.0 if holds(kind, target, current) else 0.0
    if start is None or not math.isfinite(start):
        return None
    span = target / 2 - start / 2
    if span == 0:
        # Only reachable with start and target a few subnormals apart.
        return 1.0 if current == target else 0.0
    fraction = (current / 2 - start / 2) / span
    if math.isnan(fraction):
        return None
    return min(1.0, max(0.0, fraction))


def expected_progress(kind: str, window: CycleWindow, now: datetime) -> float:
    """What progress should be at ``now``: the elapsed fraction; stay kinds expect 1."""
    if kind in STAY_KINDS:
        return 1.0
    return window.elapsed(now)


def status(value_progress: float | None, expected: float, *, closed: bool) -> GoalStatus:
    """The status of a key result from its progress and the progress expected now."""
    if value_progress is None:
        return GoalStatus.UNKNOWN
    if closed:
        return GoalStatus.ACHIEVED if value_progress >= 1 - EPSILON else GoalStatus.MISSED
    if value_progress + EPSILON >= expected - ON_TRACK_MARGIN:
        return GoalStatus.ON_TRACK
    if value_progress + EPSILON >= expected - AT_RISK_MARGIN:
        return GoalStatus.AT_RISK
    return GoalStatus.BEHIND


@dataclass(frozen=True)
class Evaluation:
    """Everything a page or the API shows about a key result at one moment."""

    progress: float | None
    expected: float
    status: GoalStatus
    state: CycleState


def evaluate(
    *,
    kind: str,
    start: float | None,
    target: float,
    current: float | None,
    window: CycleWindow,
    now: datetime,
) -> Evaluation:
    """A key result's progress, expected progress and status at ``now``.

    ``current`` is the value to judge: once the cycle has closed, callers pass the
    value at the cycle's end (a KPI's newest history row at or before it).
    """
    state = window.state(now)
    value_progress = progress(kind, start, target, current)
    expected = expected_progress(kind, window, now)
    return Evaluation(
        progress=value_progress,
        expected=expected,
        status=status(value_progress, expected, closed=state == CycleState.CLOSED),
        state=state,
    )


def objective_progress(parts: Iterable[tuple[float | None, float]]) -> float | None:
    """The weighted mean of (progress, weight) over key results with a value; None without."""
    total = weights = 0.0
    for value_progress, weight in parts:
        if value_progress is None or not weight > 0:
            continue
        total += value_progress * weight
        weights += weight
    if weights <= 0:
        return None
    return min(1.0, max(0.0, total / weights))


def objective_status(statuses: Iterable[str]) -> GoalStatus:
    """The worst of the key results' statuses, ``unknown`` ignored (all unknown: unknown)."""
    ranked = [GoalStatus(s) for s in statuses if s in _RANK]
    if not ranked:
        return GoalStatus.UNKNOWN
    return min(ranked, key=_RANK.__getitem__)


def number_error(name: str, raw: Any, *, required: bool = True) -> tuple[float | None, str | None]:
    """``raw`` as a finite float of at most ``MAX_ABS_VALUE``, or the message saying why not."""
    if raw is None or raw == "":
        return None, (f"{name} is required" if required else None)
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None, f"{name} must be a number"
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None, f"{name} must be a number"
    if not math.isfinite(value):
        return None, f"{name} must be a finite number"
    if abs(value) > MAX_ABS_VALUE:
        return None, f"{name} must be between -{MAX_ABS_VALUE:.0e} and {MAX_ABS_VALUE:.0e}"
    return value, None


def key_result_errors(kind: str, start: float | None, target: float | None) -> dict[str, str]:
    """What is wrong with a key result's kind, start and target (already finite numbers)."""
    if not isinstance(kind, str) or kind not in KIND_VALUES:
        return {"kind": f"kind must be one of: {', '.join(k.value for k in KrKind)}"}
    errors: dict[str, str] = {}
    if target is None:
        errors["target_value"] = "target_value is required"
    if kind in STAY_KINDS:
        return errors
    if start is None:
        errors["start_value"] = f"start_value is required for {kind}"
    if errors or start is None or target is None:
        return errors
    if start == target:
        errors["target_value"] = (
            "target_value equals start_value: there is nothing to move "
            "(use stay_above or stay_below to hold a value)"
        )
    elif kind == KrKind.INCREASE_TO and target < start:
        errors["target_value"] = (
            "increase_to needs target_value above start_value (use decrease_to to go down)"
        )
    elif kind == KrKind.DECREASE_TO and target > start:
        errors["target_value"] = (
            "decrease_to needs target_value below start_value (use increase_to to go up)"
        )
    return errors


def weight_error(raw: Any) -> tuple[float, str | None]:
    """A key result's weight (default 1): a number above 0 and at most ``MAX_WEIGHT``."""
    if raw is None or raw == "":
        return DEFAULT_WEIGHT, None
    value, error = number_error("weight", raw)
    if error or value is None:
        return DEFAULT_WEIGHT, error
    if not 0 < value <= MAX_WEIGHT:
        return DEFAULT_WEIGHT, f"weight must be above 0 and at most {MAX_WEIGHT:g}"
    return value, None


def cycle_dates_error(starts_on: date, ends_on: date) -> dict[str, str]:
    """What is wrong with a cycle's dates: out of range, or the end before the start."""
    errors: dict[str, str] = {}
    for name, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            errors[name] = f"{name} must be between {EARLIEST_DATE} and {LATEST_DATE}"
    if not errors and ends_on < starts_on:
        errors["ends_on"] = "ends_on must be on or after starts_on"
    return errors


def status_words(value: str) -> tuple[str, str]:
    """(words, icon) of a status; unknown text reads as "No data"."""
    try:
        return STATUS_WORDS[GoalStatus(value)]
    except ValueError:
        return STATUS_WORDS[GoalStatus.UNKNOWN]


def summary(errors: Mapping[str, str]) -> str:
    """Field errors as one sentence: ``field: message; field: message``."""
    return "; ".join(f"{field}: {message}" for field, message in errors.items())
