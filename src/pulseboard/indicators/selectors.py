"""Reads of KPIs, always for one org, and the card every surface shows for a KPI.

``kpi_cards`` builds the display data for many KPIs with a fixed number of
queries (KPIs + sources, one for the period-ago values per distinct compare
period), whatever the number of KPIs; sparklines come from the rollup kept
on the KPI row (``indicators/sparkline.py``), so no history rows are read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import QuerySet

from pulseboard.core.errors import NotFound
from pulseboard.indicators.durations import DurationError, humanize_ago, parse_duration
from pulseboard.indicators.evaluation import schedules_for, shape_params
from pulseboard.indicators.formatting import format_change, format_value
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.past_values import reader
from pulseboard.indicators.sparkline import series as sparkline_series
from pulseboard.indicators.status import Change, change_since, is_stale
from pulseboard.indicators.targets import params_in_force, schedule_phrase
from pulseboard.orgs.localization import zone_of
from pulseboard.orgs.models import Organization, Team

DEFAULT_COMPARE = timedelta(days=7)


def kpi_list(
    *,
    org: Organization,
    include_drafts: bool = False,
    owner_id: int | None = None,
    team: Team | None = None,
) -> QuerySet[Kpi]:
    """The org's KPIs in Home order; ``owner_id`` / ``team`` keep those of one owner / team."""
    kpis = Kpi.objects.filter(org=org).select_related("source", "owner")
    if not include_drafts:
        kpis = kpis.filter(published=True)
    if owner_id is not None:
        kpis = kpis.filter(owner_id=owner_id)
    if team is not None:
        kpis = kpis.filter(team_id=team.pk)
    return kpis.order_by("position", "created_at")


def kpi_list_for_home(*, org: Organization, team: Team | None = None) -> QuerySet[Kpi]:
    """A board's KPIs: every published one (the org board) or those of ``team``.

    Without the sparkline rollup: a board takes its tiles from the tile cache
    (``web/tiles.py``) and ``kpi_cards`` reads the rollup of the few it builds in one
    query. Decoding every KPI's year of daily points on every render was a quarter of
    a warm Home's time (py-spy over ``bench/home_scale.py``, docs/performance.md).
    """
    return kpi_list(org=org, include_drafts=False, team=team).defer("sparkline")


def kpi_get(*, org: Organization, kpi_id: str) -> Kpi:
    kpi = Kpi.objects.filter(org=org, pk=kpi_id).select_related("source", "parent").first()
    if kpi is None:
        raise NotFound("KPI not found")
    return kpi


def kpi_drivers(*, org: Organization, kpi: Kpi) -> QuerySet[Kpi]:
    return Kpi.objects.filter(org=org, parent=kpi).order_by("position", "created_at")


@dataclass(frozen=True)
class KpiCard:
    kpi: Kpi
    formatted_value: str
    target_phrase: str
    status: str
    stale: bool
    change: Change | None
    change_text: str
    source_kind: str
    last_pulled_at: datetime | None
    source_failing: bool
    updated_ago: str
    sparkline: list[tuple[date, float]] = field(default_factory=list)

    @property
    def change_abs(self) -> float | None:
        return self.change.absolute if self.change else None

    @property
    def change_pct(self) -> float | None:
        return self.change.percent if self.change else None


def _period(text: str, fallback: timedelta) -> timedelta:
    try:
        return parse_duration(text) if text else fallback
    except DurationError:
        return fallback


def _sparklines_load(kpis: list[Kpi]) -> None:
    """Read the rollup of the KPIs whose query deferred it: one query for all of them."""
    deferred = [kpi for kpi in kpis if "sparkline" in kpi.get_deferred_fields()]
    if not deferred:
        return
    rollups = dict(
        Kpi.objects.filter(pk__in=[kpi.pk for kpi in deferred]).values_list("pk", "sparkline")
    )
    for kpi in deferred:
        # A KPI deleted since the list was read shows no points, like a new one.
        kpi.sparkline = rollups.get(kpi.pk, {})


def kpi_cards(
    *, org: Organization, kpis: list[Kpi], now: datetime, sparklines: bool = True
) -> list[KpiCard]:
    by_period: dict[timedelta, list[str]] = defaultdict(list)
    for kpi in kpis:
        by_period[_period(kpi.compare_period, DEFAULT_COMPARE)].append(kpi.pk)
    previous: dict[str, float] = {}
    for period, ids in by_period.items():
        previous.update(reader().values_at_or_before(org_id=org.pk, kpi_ids=ids, when=now - period))
    today = now.astimezone(UTC).date()
    if sparklines:
        _sparklines_load(kpis)
    # Targets over time (DESIGN §13) of every KPI in one query; the phrase dates the next
    # change in the org's zone.
    schedules = schedules_for(org_id=org.pk, kpi_ids=[kpi.pk for kpi in kpis])
    zone = zone_of(org.timezone)
    cards = []
    for kpi in kpis:
        source = getattr(kpi, "source", None)
        base = shape_params(kpi)
        params = params_in_force(base, schedules[kpi.pk], now)
        units = {
            "unit_type": kpi.unit_type,
            "unit_label": kpi.unit_label,
            "display_format": kpi.display_format,
            "locale": org.locale,
        }
        pull_interval = (
            timedelta(seconds=source.interval_seconds) if source and source.is_pull else None
        )
        change = change_since(params, kpi.current_value, previous.get(kpi.pk))
        cards.append(
            KpiCard(
                kpi=kpi,
                formatted_value=format_value(kpi.current_value, **units),
                target_phrase=schedule_phrase(base, schedules[kpi.pk], now, **units, zone=zone),
                status=kpi.status,
                stale=is_stale(
                    observed_at=kpi.observed_at,
                    now=now,
                    expected_every=_period(kpi.expected_every, timedelta(0)) or None,
                    pull_interval=pull_interval,
                    last_success_at=source.last_success_at if source else None,
                ),
                change=change,
                change_text=format_change(change, **units) if change else "",
                source_kind=source.kind if source else "manual",
                last_pulled_at=source.last_pulled_at if source else None,
                source_failing=bool(source and source.failing),
                updated_ago=humanize_ago(kpi.observed_at, now) if kpi.observed_at else "",
                sparkline=sparkline_series(kpi.sparkline, today) if sparklines else [],
            )
        )
    return cards
