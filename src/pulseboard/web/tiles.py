"""What a KPI looks like on a page: the card from the selectors plus the web's own bits.

A ``Tile`` adds the status words and icon (status is never colour alone), the
direction of the change and the sparkline SVG to a ``KpiCard``. Home, the
inline value edit and Settings → KPIs all render tiles built here, so a KPI
reads the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from django.utils.safestring import SafeString, mark_safe

from pulseboard.history.annotations import newest_in_window
from pulseboard.history.models import Annotation
from pulseboard.indicators.formatting import format_short_date
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import KpiCard, kpi_cards
from pulseboard.indicators.sparkline import WINDOW_DAYS
from pulseboard.orgs.localization import zone_of
from pulseboard.orgs.models import Organization
from pulseboard.web.charts import sparkline

# Each status has its own word and its own icon shape, so colour is never the only cue.
STATUS_TEXT = {
    "green": ("On track", "✔"),
    "yellow": ("At risk", "▲"),
    "red": ("Off track", "✖"),
    "unknown": ("No data", "?"),
}


@dataclass(frozen=True)
class Tile:
    card: KpiCard
    sparkline: SafeString
    # "since Dec 3" in the org's zone and locale: when the current status began ("" if unknown).
    status_since_text: str = ""
    # The newest annotation inside the KPI's compare period: "why it moved" (None if none).
    annotation: Annotation | None = None

    @property
    def kpi(self) -> Kpi:
        return self.card.kpi

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.card.status, STATUS_TEXT["unknown"])[0]

    @property
    def status_icon(self) -> str:
        return STATUS_TEXT.get(self.card.status, STATUS_TEXT["unknown"])[1]

    @property
    def change_arrow(self) -> str:
        change = self.card.change
        if change is None or change.absolute == 0:
            return "→"
        return "↑" if change.absolute > 0 else "↓"

    @property
    def change_verdict(self) -> str:
        """'good', 'bad' or '' (no move, or the shape has no preferred direction)."""
        change = self.card.change
        if change is None or change.good is None:
            return ""
        return "good" if change.good else "bad"


def tiles_for(
    *,
    org: Organization,
    kpis: list[Kpi],
    now: datetime,
    sparklines: bool = True,
    notes: bool = True,
) -> list[Tile]:
    """Tiles for many KPIs in the constant number of queries of ``kpi_cards`` (+1 for notes).

    ``notes=False`` leaves out the members' annotations (share links show no notes).
    """
    cards = kpi_cards(org=org, kpis=kpis, now=now, sparklines=sparklines)
    newest = newest_in_window(org=org, kpis=kpis, now=now) if notes and kpis else {}
    zone = zone_of(org.timezone)
    return [
        Tile(
            card=card,
            # The SVG is built and escaped by charts.sparkline; the title is escaped there.
            sparkline=mark_safe(  # noqa: S308
                sparkline(card.sparkline, label=f"{card.kpi.title}: last {WINDOW_DAYS} days")
            ),
            status_since_text=_since(card.kpi.status_since, now=now, zone=zone, locale=org.locale),
            annotation=newest.get(card.kpi.pk),
        )
        for card in cards
    ]


def _since(when: datetime | None, *, now: datetime, zone: tzinfo, locale: str) -> str:
    if when is None:
        return ""
    day = when.astimezone(zone).date()
    return "since " + format_short_date(day, locale=locale, today=now.astimezone(zone).date())
