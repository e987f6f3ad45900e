"""Reads of goals, always for one org, and the cards every surface shows for them.

A key result that follows a KPI is judged on the KPI's current value, read here
at read time (joined in the same query), so a webhook delivery or a pull that
moves the KPI moves the key result in the very next response; once its cycle
has closed it is judged on the KPI's newest history row before the cycle's end.

``key_result_cards`` and ``goal_board`` use a fixed number of queries whatever the
number of objectives and key results: objectives, key results (with their KPI
and owner joined) and one query per distinct end of the *closed* cycles shown
(the Goals page shows the cycles that are not closed, so none there).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet

from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import NotFound
from pulseboard.goals.models import CheckIn, Cycle, KeyResult, Objective
from pulseboard.goals.progress import (
    STAY_KINDS,
    CycleState,
    CycleWindow,
    Evaluation,
    KrKind,
    cycle_window,
    evaluate,
    expected_progress,
    objective_progress,
    objective_status,
    progress,
    status_words,
)
from pulseboard.history.selectors import daily_averages, history_range, values_at_or_before
from pulseboard.indicators.formatting import format_value
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Organization, Team

# Past this many history rows in a cycle, a KPI-linked chart uses one average per day.
RAW_POINTS_LIMIT = 1500
_BEFORE_END = timedelta(microseconds=1)
_KEY_RESULT_JOINS = ("objective__cycle", "kpi", "owner")


def window_of(org: Organization, cycle: Cycle) -> CycleWindow:
    return cycle_window(cycle.starts_on, cycle.ends_on, org.timezone)


def cycle_list(*, org: Organization) -> QuerySet[Cycle]:
    return Cycle.objects.filter(org=org).order_by("-starts_on", "name")


def cycle_get(*, org: Organization, cycle_id: str) -> Cycle:
    cycle = Cycle.objects.filter(org=org, pk=cycle_id).first() if is_object_id(cycle_id) else None
    if cycle is None:
        raise NotFound("cycle not found")
    return cycle


def objective_get(*, org: Organization, objective_id: str) -> Objective:
    objective = (
        Objective.objects.filter(org=org, pk=objective_id).select_related("cycle", "owner").first()
        if is_object_id(objective_id)
        else None
    )
    if objective is None:
        raise NotFound("objective not found")
    return objective


def objective_list(
    *, org: Organization, cycle: Cycle | None = None, team: Team | None = None
) -> QuerySet[Objective]:
    """The org's objectives, oldest cycle first; ``cycle`` and ``team`` narrow the list."""
    objectives = Objective.objects.filter(org=org).select_related("cycle", "owner")
    if cycle is not None:
        objectives = objectives.filter(cycle=cycle)
    if team is not None:
        objectives = objectives.filter(team=team)
    return objectives.order_by("cycle__starts_on", "created_at")


def key_result_get(*, org: Organization, key_result_id: str) -> KeyResult:
    key_result = (
        KeyResult.objects.filter(org=org, pk=key_result_id)
        .select_related(*_KEY_RESULT_JOINS)
        .first()
        if is_object_id(key_result_id)
        else None
    )
    if key_result is None:
        raise NotFound("key result not found")
    return key_result


def check_in_list(*, org: Organization, key_result: KeyResult) -> QuerySet[CheckIn]:
    """A key result's check-ins, oldest first."""
    return CheckIn.objects.filter(org=org, key_result=key_result).order_by("created_at", "id")


@dataclass(frozen=True)
class Units:
    unit_type: str
    unit_label: str
    display_format: str
    locale: str

    def format(self, value: float | None) -> str:
        return format_value(
            value,
            unit_type=self.unit_type,
            unit_label=self.unit_label,
            display_format=self.display_format,
            locale=self.locale,
        )


def units_of(org: Organization, key_result: KeyResult) -> Units:
    """A KPI-linked key result borrows the KPI's units; a manual one has its own."""
    source: KeyResult | Kpi = key_result.kpi if key_result.kpi_id else key_result  # type: ignore[assignment]
    return Units(source.unit_type, source.unit_label, source.display_format, org.locale)


def target_phrase(key_result: KeyResult, units: Units) -> str:
    """'from 85% to 92%', 'stay above 99.9%': the key result's aim in its units."""
    target = units.format(key_result.target_value)
    if key_result.kind == KrKind.STAY_ABOVE:
        return f"stay above {target}"
    if key_result.kind == KrKind.STAY_BELOW:
        return f"stay below {target}"
    return f"from {units.format(key_result.start_value)} to {target}"


@dataclass(frozen=True)
class KeyResultCard:
    key_result: KeyResult
    window: CycleWindow
    current_value: float | None  # the value judged: at the cycle's end once it closed
    evaluation: Evaluation
    units: Units

    @property
    def formatted_current(self) -> str:
        return self.units.format(self.current_value)

    @property
    def formatted_target(self) -> str:
        return self.units.format(self.key_result.target_value)

    @property
    def formatted_start(self) -> str:
        return self.units.format(self.key_result.start_value)

    @property
    def target_phrase(self) -> str:
        return target_phrase(self.key_result, self.units)

    @property
    def progress(self) -> float | None:
        return self.evaluation.progress

    @property
    def expected(self) -> float:
        return self.evaluation.expected

    @property
    def status(self) -> str:
        return self.evaluation.status.value

    @property
    def status_text(self) -> str:
        return status_words(self.status)[0]

    @property
    def status_icon(self) -> str:
        return status_words(self.status)[1]


@dataclass(frozen=True)
class ObjectiveCard:
    objective: Objective
    key_results: list[KeyResultCard]
    progress: float | None
    status: str
    expected: float | None  # the elapsed fraction of the cycle (None for an objective of stays)

    @property
    def status_text(self) -> str:
        return status_words(self.status)[0]

    @property
    def status_icon(self) -> str:
        return status_words(self.status)[1]


def _end_values(
    org: Organization, key_results: list[KeyResult], now: datetime
) -> dict[tuple[str, datetime], float]:
    """(kpi id, cycle end) -> the KPI's newest value before that end, for closed cycles."""
    wanted: dict[datetime, set[str]] = defaultdict(set)
    for key_result in key_results:
        if key_result.kpi_id is None:
            continue
        window = window_of(org, key_result.objective.cycle)
        if window.state(now) == CycleState.CLOSED:
            wanted[window.ends_at].add(key_result.kpi_id)
    found: dict[tuple[str, datetime], float] = {}
    for ends_at, kpi_ids in wanted.items():
        values = values_at_or_before(org_id=org.pk, kpi_ids=kpi_ids, when=ends_at - _BEFORE_END)
        found.update({(kpi_id, ends_at): value for kpi_id, value in values.items()})
    return found


def key_result_cards(
    *, org: Organization, key_results: list[KeyResult], now: datetime
) -> list[KeyResultCard]:
    """Cards for key results read with ``objective__cycle``, ``kpi`` and ``owner`` joined."""
    end_values = _end_values(org, key_results, now)
    cards = []
    for key_result in key_results:
        window = window_of(org, key_result.objective.cycle)
        current: float | None
        if key_result.kpi_id is None:
            current = key_result.current_value
        elif window.state(now) == CycleState.CLOSED:
            current = end_values.get((key_result.kpi_id, window.ends_at))
        else:
            current = key_result.kpi.current_value if key_result.kpi else None
        evaluation = evaluate(
            kind=key_result.kind,
            start=key_result.start_value,
            target=key_result.target_value,
            current=current,
            window=window,
            now=now,
        )
        cards.append(
            KeyResultCard(
                key_result=key_result,
                window=window,
                current_value=current,
                evaluation=evaluation,
                units=units_of(org, key_result),
            )
        )
    return cards


def objective_cards(
    *, org: Organization, objectives: list[Objective], now: datetime
) -> list[ObjectiveCard]:
    """Cards for objectives (read with ``cycle`` and ``owner``) with their key results."""
    by_objective: dict[str, list[KeyResult]] = defaultdict(list)
    if objectives:
        rows = (
            KeyResult.objects.filter(org=org, objective__in=[o.pk for o in objectives])
            .select_related(*_KEY_RESULT_JOINS)
            .order_by("created_at", "id")
        )
        for key_result in rows:
            by_objective[key_result.objective_id].append(key_result)
    cards_by_id = {
        card.key_result.pk: card
        for card in key_result_cards(
            org=org, key_results=[kr for krs in by_objective.values() for kr in krs], now=now
        )
    }
    out = []
    for objective in objectives:
        cards = [cards_by_id[kr.pk] for kr in by_objective.get(objective.pk, [])]
        moving = [c for c in cards if c.key_result.kind not in STAY_KINDS]
        window = window_of(org, objective.cycle)
        out.append(
            ObjectiveCard(
                objective=objective,
                key_results=cards,
                progress=objective_progress((c.progress, c.key_result.weight) for c in cards),
                status=objective_status(c.status for c in cards).value,
                expected=window.elapsed(now) if moving or not cards else None,
            )
        )
    return out


@dataclass(frozen=True)
class CycleBoard:
    cycle: Cycle
    window: CycleWindow
    state: CycleState
    objectives: list[ObjectiveCard]

    @property
    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for card in self.objectives:
            counts[card.status] += 1
        return dict(counts)


_STATE_ORDER = {CycleState.ACTIVE: 0, CycleState.UPCOMING: 1, CycleState.CLOSED: 2}


def _cycle_order(board: tuple[Cycle, CycleWindow, CycleState]) -> tuple[int, float]:
    _, window, state = board
    if state == CycleState.ACTIVE:
        # The one ending soonest first: a quarter before the year it belongs to.
        return (0, window.ends_at.timestamp())
    if state == CycleState.UPCOMING:
        return (1, window.starts_at.timestamp())
    return (2, -window.ends_at.timestamp())


def goal_board(
    *, org: Organization, now: datetime, cycle: Cycle | None = None, team: Team | None = None
) -> tuple[list[CycleBoard], list[CycleBoard]]:
    """(cycles shown in full, other cycles) for the Goals page.

    By default the cycles that are not closed are shown in full (active ones first,
    the soonest to end first, then upcoming ones) and closed ones are listed apart,
    newest first, without their objectives. With ``cycle`` only that one is in full.
    With ``team`` the cycles hold only that team's objectives.
    """
    placed = sorted(
        ((c, w, w.state(now)) for c in cycle_list(org=org) for w in [window_of(org, c)]),
        key=_cycle_order,
    )
    if cycle is not None:
        full = [p for p in placed if p[0].pk == cycle.pk]
    else:
        full = [p for p in placed if p[2] != CycleState.CLOSED]
    full_ids = {p[0].pk for p in full}
    chosen = Objective.objects.filter(org=org, cycle__in=full_ids)
    if team is not None:
        chosen = chosen.filter(team=team)
    objectives = (
        list(chosen.select_related("cycle", "owner").order_by("created_at", "id"))
        if full_ids
        else []
    )
    cards = objective_cards(org=org, objectives=objectives, now=now)
    by_cycle: dict[str, list[ObjectiveCard]] = defaultdict(list)
    for card in cards:
        by_cycle[card.objective.cycle_id].append(card)
    shown = [CycleBoard(c, w, s, by_cycle.get(c.pk, [])) for c, w, s in full]
    others = [CycleBoard(c, w, s, []) for c, w, s in placed if c.pk not in full_ids]
    return shown, others


def key_result_list_for_kpi(*, org: Organization, kpi: Kpi) -> QuerySet[KeyResult]:
    """The key results that follow ``kpi`` (they hold it: the KPI cannot be deleted)."""
    return KeyResult.objects.filter(org=org, kpi=kpi).select_related("objective").order_by("title")


def key_results_following(*, org: Organization, kpi: Kpi, now: datetime) -> list[KeyResultCard]:
    """The key results that follow ``kpi``, newest cycle first."""
    rows = list(
        KeyResult.objects.filter(org=org, kpi=kpi)
        .select_related(*_KEY_RESULT_JOINS)
        .order_by("-objective__cycle__starts_on", "created_at")
    )
    return key_result_cards(org=org, key_results=rows, now=now)


@dataclass(frozen=True)
class ProgressPoint:
    at: datetime
    value: float
    progress: float | None
    expected: float


def key_result_progress(
    *, org: Organization, key_result: KeyResult, now: datetime
) -> list[ProgressPoint]:
    """The key result's progress over its cycle, oldest first.

    A manual key result: its check-ins (late ones after the cycle included). A KPI-
    linked one: the KPI's value in force when the cycle started, then its history
    inside the cycle (one average per UTC day when there are more than
    ``RAW_POINTS_LIMIT`` rows); nothing after ``now``.
    """
    window = window_of(org, key_result.objective.cycle)
    raw: list[tuple[datetime, float]]
    if key_result.kpi_id is None:
        raw = list(check_in_list(org=org, key_result=key_result).values_list("created_at", "value"))
    else:
        raw = _kpi_points(org, key_result.kpi_id, window, now)

    def point(at: datetime, value: float) -> ProgressPoint:
        return ProgressPoint(
            at=at,
            value=value,
            progress=progress(
                key_result.kind, key_result.start_value, key_result.target_value, value
            ),
            expected=expected_progress(key_result.kind, window, at),
        )

    return [point(at, value) for at, value in raw]


def _kpi_points(
    org: Organization, kpi_id: str, window: CycleWindow, now: datetime
) -> list[tuple[datetime, float]]:
    until = min(window.ends_at, now + _BEFORE_END)
    if until <= window.starts_at:
        return []
    points: list[tuple[datetime, float]] = []
    opening = values_at_or_before(org_id=org.pk, kpi_ids=[kpi_id], when=window.starts_at)
    if kpi_id in opening:
        points.append((window.starts_at, opening[kpi_id]))
    rows = history_range(org_id=org.pk, kpi_id=kpi_id, since=window.starts_at, until=until)
    if rows.count() <= RAW_POINTS_LIMIT:
        points += [
            (at, value)
            for at, value in rows.values_list("observed_at", "value")
            if at > window.starts_at or not points
        ]
        return points
    for day, average, _ in daily_averages(org_id=org.pk, kpi_id=kpi_id, since=window.starts_at):
        at = datetime(day.year, day.month, day.day, 12, tzinfo=window.starts_at.tzinfo)
        if at < until:
            points.append((max(at, window.starts_at), average))
    return points
