"""Targets over time (DESIGN §13): a KPI's schedule of shape parameters, and its rules.

Owns ``ScheduledTarget`` (one entry: the parameters that come into force at
``effective_from``), ``Schedule`` (a KPI's entries in time order, for lookups by
instant), ``params_in_force`` / ``next_change`` (which entry holds at a moment and
which comes next), ``validate_schedule`` (a whole schedule checked against the
KPI's shape, every error at once, keyed ``"<index>.<field>"``) and
``schedule_phrase`` ("stay below 500 ms · 400 ms from Jan 1"). Pure: no Django, no
I/O, no clock; time comes in as an argument.

Decisions:
- The shape is never scheduled, only its parameters. Which parameters a shape
  schedules follows from ``SHAPE_PARAMS``: ``threshold`` and ``warn_at`` for
  stay_above/stay_below, ``lower``, ``upper`` and ``warn_margin`` for stay_between,
  ``baseline`` and ``warn_margin`` for a fixed-baseline trend, ``warn_margin`` alone
  for a prior-period trend (its baseline is its own past). Direction, baseline
  mode and period stay the KPI's.
- An entry is complete: it sets every parameter its shape schedules, so an entry
  without ``warn_at`` means "no warning band" while it is in force, not "keep the
  KPI's". Each entry is validated exactly like the KPI's own parameters
  (``shapes.validate_params``), so a warning band on the wrong side or
  ``lower > upper`` is refused with the same message as on the KPI form.
- An entry that no longer fits the KPI's shape (the shape was changed after it was
  scheduled) is skipped at evaluation: it never turns a KPI grey. It stays in the
  schedule until an admin replaces the schedule (and a new PUT must fit).
- Two entries at the same instant (whatever their offsets) are refused; times must
  carry a zone offset and lie between 1970 and 2999; at most ``MAX_ENTRIES``.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Final

from pulseboard.indicators.formatting import (
    DEFAULT_LOCALE,
    format_short_date,
    format_target,
    target_phrase,
)
from pulseboard.indicators.shapes import (
    SHAPE_PARAMS,
    BaselineMode,
    Shape,
    ShapeParams,
    ShapeValidationError,
    validate_params,
)

MAX_ENTRIES: Final = 100
# The parameters a schedule may set; the shape picks its own among them.
SCHEDULED_FIELDS: Final = ("threshold", "lower", "upper", "baseline", "warn_at", "warn_margin")
ENTRY_FIELDS: Final = ("effective_from", *SCHEDULED_FIELDS)
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ScheduledTarget:
    """Parameters of the KPI's shape in force from ``effective_from`` (an aware datetime)."""

    effective_from: datetime
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    baseline: float | None = None
    warn_at: float | None = None
    warn_margin: float | None = None

    def as_dict(self) -> dict[str, object]:
        """The entry as the API and the audit log show it (UTC ISO 8601 time)."""
        out: dict[str, object] = {"effective_from": self.effective_from.astimezone(UTC).isoformat()}
        out.update({name: getattr(self, name) for name in SCHEDULED_FIELDS})
        return out


def scheduled_params(shape: str, baseline_mode: str | None = BaselineMode.FIXED) -> tuple[str, ...]:
    """The parameters a schedule sets for ``shape`` (under ``baseline_mode`` for a trend)."""
    if shape not in set(Shape):
        return ()
    return tuple(
        param.name
        for param in SHAPE_PARAMS[Shape(shape)]
        if param.name in SCHEDULED_FIELDS
        and (param.baseline_mode is None or param.baseline_mode == baseline_mode)
    )


def _required(base: ShapeParams) -> tuple[str, ...]:
    if base.shape not in set(Shape):
        return ()
    return tuple(
        param.name
        for param in SHAPE_PARAMS[Shape(base.shape)]
        if param.required
        and param.name in SCHEDULED_FIELDS
        and (param.baseline_mode is None or param.baseline_mode == base.baseline_mode)
    )


def fits(base: ShapeParams, entry: ScheduledTarget) -> bool:
    """Whether ``entry`` sets every parameter ``base``'s shape requires."""
    return all(getattr(entry, name) is not None for name in _required(base))


def applied(base: ShapeParams, entry: ScheduledTarget) -> ShapeParams:
    """``base`` with the parameters ``entry`` schedules for its shape."""
    names = scheduled_params(base.shape, base.baseline_mode)
    return dataclasses.replace(base, **{name: getattr(entry, name) for name in names})


class Schedule:
    """A KPI's entries in time order; lookups by instant are a binary search."""

    __slots__ = ("_times", "entries")

    def __init__(self, entries: Iterable[ScheduledTarget] = ()) -> None:
        self.entries: tuple[ScheduledTarget, ...] = tuple(
            sorted(entries, key=lambda entry: entry.effective_from)
        )
        self._times = [entry.effective_from for entry in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __iter__(self) -> Iterator[ScheduledTarget]:
        return iter(self.entries)

    def index_in_force(self, at: datetime, base: ShapeParams | None = None) -> int:
        """The index of the entry in force at ``at`` (-1: none, the KPI's own parameters).

        With ``base``, entries that do not fit its shape are passed over."""
        index = bisect.bisect_right(self._times, at) - 1
        while index >= 0 and base is not None and not fits(base, self.entries[index]):
            index -= 1
        return index

    def in_force(self, at: datetime, base: ShapeParams | None = None) -> ScheduledTarget | None:
        index = self.index_in_force(at, base)
        return self.entries[index] if index >= 0 else None

    def next_after(self, at: datetime, base: ShapeParams | None = None) -> ScheduledTarget | None:
        """The first entry that comes into force after ``at``."""
        for entry in self.entries[bisect.bisect_right(self._times, at) :]:
            if base is None or fits(base, entry):
                return entry
        return None


def _schedule(entries: Schedule | Iterable[ScheduledTarget]) -> Schedule:
    return entries if isinstance(entries, Schedule) else Schedule(entries)


def entry_in_force(
    entries: Schedule | Iterable[ScheduledTarget], at: datetime, *, base: ShapeParams | None = None
) -> ScheduledTarget | None:
    """The newest entry with ``effective_from <= at`` (that fits ``base``), else None."""
    return _schedule(entries).in_force(at, base)


def params_in_force(
    base: ShapeParams, entries: Schedule | Iterable[ScheduledTarget], at: datetime
) -> ShapeParams:
    """The parameters in force at ``at``: the newest entry's with effective_from <= at,
    else the KPI's own (``base``). The shape is always ``base``'s."""
    entry = _schedule(entries).in_force(at, base)
    return base if entry is None else applied(base, entry)


def next_change(
    entries: Schedule | Iterable[ScheduledTarget], at: datetime, *, base: ShapeParams | None = None
) -> ScheduledTarget | None:
    """The entry that comes into force next after ``at`` (that fits ``base``), or None."""
    return _schedule(entries).next_after(at, base)


def params_over_time(
    base: ShapeParams, entries: Schedule | Iterable[ScheduledTarget]
) -> Callable[[datetime], ShapeParams]:
    """``params_in_force`` for many instants: each entry's parameters are built once, so
    judging a long import costs one binary search per row."""
    schedule = _schedule(entries)
    if not schedule:
        return lambda at: base
    built = [applied(base, entry) for entry in schedule.entries]

    def at_time(at: datetime) -> ShapeParams:
        index = schedule.index_in_force(at, base)
        return base if index < 0 else built[index]

    return at_time


# --- validation -----------------------------------------------------------------------------


class ScheduleInvalid(ValueError):
    """A schedule that breaks a rule; ``errors`` maps ``"<index>.<field>"`` (or ``"targets"``)
    to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def _instant(raw: object) -> tuple[datetime | None, str | None]:
    """``raw`` as an aware UTC datetime, or the message saying why it is not one."""
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None, "must be an ISO 8601 date-time with a zone offset, e.g. 2027-01-01T00:00Z"
    if not isinstance(raw, datetime):
        return None, "is required: an ISO 8601 date-time with a zone offset"
    if raw.tzinfo is None or raw.utcoffset() is None:
        return None, "must include a time zone offset, e.g. Z or +02:00"
    try:
        moment = raw.astimezone(UTC)
    except OverflowError:
        return None, "is out of range once converted to UTC"
    if not EARLIEST <= moment < LATEST:
        return None, "must be between 1970 and 2999"
    return moment, None


def _entry(
    index: int, base: ShapeParams, raw: Mapping[str, object], errors: dict[str, str]
) -> ScheduledTarget | None:
    own = scheduled_params(base.shape, base.baseline_mode)
    found: dict[str, str] = {}
    for name in raw:
        if name not in ENTRY_FIELDS:
            found[str(name)] = f"unknown field; an entry takes effective_from and {', '.join(own)}"
    for name in SCHEDULED_FIELDS:
        if name not in own and raw.get(name) is not None:
            takes = ", ".join(own) if own else "no scheduled parameters"
            found[name] = f"does not apply to {base.shape}; its schedule sets {takes}"
    moment, problem = _instant(raw.get("effective_from"))
    if problem:
        found["effective_from"] = problem
    values = {name: raw.get(name) for name in own}
    try:
        checked = validate_params(dataclasses.replace(base, **values))  # type: ignore[arg-type]
    except ShapeValidationError as exc:
        for field, message in exc.errors.items():
            found.setdefault(field, message)
        checked = None
    errors.update({f"{index}.{field}": message for field, message in found.items()})
    if found or checked is None or moment is None:
        return None
    return ScheduledTarget(effective_from=moment, **{name: getattr(checked, name) for name in own})


def validate_schedule(base: ShapeParams, entries: object) -> Schedule:
    """A whole schedule for a KPI whose own parameters are ``base``, checked and normalised
    (UTC times, floats, time order), or ``ScheduleInvalid`` with every error at once.

    ``entries`` is a sequence of mappings with ``effective_from`` (an aware datetime or
    ISO 8601 text) and the parameters of ``base``'s shape."""
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise ScheduleInvalid({"targets": "must be a list of entries"})
    if len(entries) > MAX_ENTRIES:
        raise ScheduleInvalid(
            {"targets": f"at most {MAX_ENTRIES} entries; this schedule has {len(entries)}"}
        )
    errors: dict[str, str] = {}
    checked: list[ScheduledTarget] = []
    first_at: dict[datetime, int] = {}
    for index, raw in enumerate(entries):
        if not isinstance(raw, Mapping):
            errors[str(index)] = "each entry must be an object"
            continue
        entry = _entry(index, base, raw, errors)
        if entry is None:
            continue
        if entry.effective_from in first_at:
            errors[f"{index}.effective_from"] = (
                f"entry {first_at[entry.effective_from]} already starts at this instant"
            )
            continue
        first_at[entry.effective_from] = index
        checked.append(entry)
    if errors:
        raise ScheduleInvalid(errors)
    return Schedule(checked)


# --- the phrase -----------------------------------------------------------------------------


def _change_text(
    base: ShapeParams, entry: ScheduledTarget, current: ShapeParams, **units: str
) -> str:
    """What the next entry changes, shortly: "400 ms", "4.0 to 8.0", "baseline $1.3M"."""
    upcoming = applied(base, entry)

    def shown(value: float | None) -> str:
        return format_target(value, **units)

    if base.shape in (Shape.STAY_ABOVE, Shape.STAY_BELOW):
        if upcoming.threshold != current.threshold:
            return shown(upcoming.threshold)
        if upcoming.warn_at is None:
            return "no at-risk band"
        return f"at risk from {shown(upcoming.warn_at)}"
    between = base.shape == Shape.STAY_BETWEEN
    if between and (upcoming.lower, upcoming.upper) != (current.lower, current.upper):
        return f"{shown(upcoming.lower)} to {shown(upcoming.upper)}"
    fixed_trend = base.shape == Shape.TREND and base.baseline_mode == BaselineMode.FIXED
    if fixed_trend and upcoming.baseline != current.baseline:
        return f"baseline {shown(upcoming.baseline)}"
    if upcoming.warn_margin is None:
        return "no at-risk margin"
    return f"at-risk margin {shown(upcoming.warn_margin)}"


def schedule_phrase(
    base: ShapeParams,
    entries: Schedule | Iterable[ScheduledTarget],
    now: datetime,
    *,
    unit_type: str,
    unit_label: str = "",
    display_format: str = "decimal_1",
    locale: str = DEFAULT_LOCALE,
    zone: tzinfo = UTC,
) -> str:
    """The target in force at ``now`` and the next scheduled change:
    "stay below 500 ms · 400 ms from Jan 1" (the date in ``zone`` and ``locale``, with
    the year when it is not this year's). Without a change ahead, ``target_phrase``."""
    schedule = _schedule(entries)
    units = {
        "unit_type": unit_type,
        "unit_label": unit_label,
        "display_format": display_format,
        "locale": locale,
    }
    current = params_in_force(base, schedule, now)
    phrase = target_phrase(current, **units)
    upcoming = schedule.next_after(now, base)
    if upcoming is None or not phrase:
        return phrase
    day = upcoming.effective_from.astimezone(zone).date()
    when = format_short_date(day, locale=locale, today=now.astimezone(zone).date())
    return f"{phrase} · {_change_text(base, upcoming, current, **units)} from {when}"
