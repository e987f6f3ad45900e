"""What a KPI looks like on a page: the card from the selectors plus the web's own bits.

A ``Tile`` adds the status words and icon (status is never colour alone), the
direction of the change and the sparkline SVG to a ``KpiCard``. Home, the
inline value edit and Settings → KPIs all render tiles built here, so a KPI
reads the same everywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Final, Generic, TypeVar

from django.template.loader import get_template
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

V = TypeVar("V")

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
    # What the cached part was built from (``_tile_stamp``); () when not known.
    stamp: tuple[object, ...] = ()
    # The board's rendered <li> for this tile, when ``tiles_rendered`` had it cached.
    html: SafeString | None = None

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
    A tile whose KPI has not changed since it was last built (same ``_tile_stamp``) is
    taken from the process's tile cache; ``kpi_cards`` runs only for the others, and
    not at all when every tile is cached.
    """
    newest = newest_in_window(org=org, kpis=kpis, now=now) if notes and kpis else {}
    zone = zone_of(org.timezone)
    stamps = {kpi.pk: _tile_stamp(org, kpi, now=now, sparklines=sparklines) for kpi in kpis}
    cached = {pk: tile_parts.get((org.pk, pk), stamps[pk]) for pk in stamps}
    built = {pk: part for pk, part in cached.items() if part is not None}
    missing = [kpi for kpi in kpis if kpi.pk not in built]
    if missing:
        for card in kpi_cards(org=org, kpis=missing, now=now, sparklines=sparklines):
            part = _TilePart(
                card=card,
                # The SVG is built and escaped by charts.sparkline; the title is escaped there.
                sparkline=mark_safe(  # noqa: S308
                    sparkline(card.sparkline, label=f"{card.kpi.title}: last {WINDOW_DAYS} days")
                ),
                status_since_text=_since(
                    card.kpi.status_since, now=now, zone=zone, locale=org.locale
                ),
            )
            tile_parts.put((org.pk, card.kpi.pk), stamps[card.kpi.pk], part)
            built[card.kpi.pk] = part
    return [
        Tile(
            # The KPI row just read (owner, team, title as of now); the rest as built.
            card=replace(built[kpi.pk].card, kpi=kpi),
            sparkline=built[kpi.pk].sparkline,
            status_since_text=built[kpi.pk].status_since_text,
            annotation=newest.get(kpi.pk),
            stamp=stamps[kpi.pk],
        )
        for kpi in kpis
    ]


# --- the tile cache -------------------------------------------------------------------------
#
# Profiled with pyinstrument over bench/home_scale.py (docs/performance.md): of Home's
# server time, building the tiles (formatting, the "one period ago" and schedule reads,
# the sparkline SVG) was about half; an unchanged tile is now a dictionary lookup.
#
# What a tile shows comes from the KPI row, its source's row, its targets over time, its
# history one compare period ago, the org's locale and zone, and the clock. The stamp
# holds all of them: ``Kpi.updated_at`` moves on every save of the KPI (value, status,
# target, targets over time, owner, definition: ``Kpi.save`` adds it to every
# ``update_fields``, bulk writers set it), the source's pull state is in the stamp
# itself, and the clock enters as the minute (ages read "3 min ago", staleness and the
# compare value move with it; live pages key their ETag on the minute for the same
# reason, ``web/live.py``). The annotation and the KPI row itself (owner's name) are not
# cached: they are read on every render. Entries are per (org, KPI): one org's tile can
# never be another's, and a changed KPI replaces its own entry. The cache is bounded
# (least recently used out) and per process, like Django's LocMemCache, which would
# pickle every tile on each get and set and shares its 300 entries with other users.

MAX_TILES: Final = 5_000


@dataclass(frozen=True)
class _TilePart:
    card: KpiCard
    sparkline: SafeString
    status_since_text: str


class _StampedCache(Generic[V]):
    """Per (org, KPI): the newest value and the stamp it was made from; LRU, thread-safe.

    A lookup with another stamp is a miss (the entry is replaced on the next ``put``).
    ``size`` 0 keeps nothing (``bench/home_scale.py --no-tile-cache``).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, str], tuple[tuple[object, ...], V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slot: tuple[int, str], stamp: tuple[object, ...]) -> V | None:
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(slot)
            return entry[1]

    def put(self, slot: tuple[int, str], stamp: tuple[object, ...], value: V) -> None:
        with self._lock:
            self._entries[slot] = (stamp, value)
            self._entries.move_to_end(slot)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


tile_parts: _StampedCache[_TilePart] = _StampedCache(MAX_TILES)


def _tile_stamp(
    org: Organization, kpi: Kpi, *, now: datetime, sparklines: bool
) -> tuple[object, ...]:
    source = getattr(kpi, "source", None)
    pulled = (
        (
            source.pk,
            source.kind,
            source.interval_seconds,
            source.last_success_at,
            source.last_pulled_at,
            source.failing,
        )
        if source is not None
        else None
    )
    minute = now.replace(second=0, microsecond=0)
    return (kpi.updated_at, pulled, org.locale, org.timezone, minute, sparklines)


def tile_cache_clear() -> None:
    """Forget every cached tile (tests that count a page's queries from cold)."""
    tile_parts.clear()
    rendered_tiles.clear()


# --- rendered board tiles -------------------------------------------------------------------
#
# With every tile's data cached, rendering the 30 tiles' markup was most of a warm Home's
# time (py-spy over bench/home_scale.py, docs/performance.md). A board tile's <li> (the
# ``tile`` partial of web/home.html, shared by the team boards) is kept per (org, KPI),
# keyed by everything it shows: the tile's stamp, the KPI row's own fields read fresh
# (title, category, compare period, expected interval, owner's name), the newest note,
# and whether the viewer is an admin (admins get the value button). The editing form
# (with its CSRF token) is never cached.

BOARD_TILE: Final = "web/home.html#tile"
MAX_RENDERED: Final = 5_000
rendered_tiles: _StampedCache[SafeString] = _StampedCache(MAX_RENDERED)


def _rendered_key(tile: Tile, *, is_org_admin: bool) -> tuple[object, ...]:
    kpi, note = tile.kpi, tile.annotation
    owner = kpi.owner.display_name if kpi.owner_id and kpi.owner is not None else None
    return (
        tile.stamp,
        kpi.title,
        kpi.category,
        kpi.compare_period,
        kpi.expected_every,
        owner,
        (note.pk, note.text) if note is not None else None,
        is_org_admin,
    )


def tiles_rendered(org: Organization, tiles: list[Tile], *, is_org_admin: bool) -> list[Tile]:
    """``tiles`` with ``html`` set: each board tile's markup, rendered once per change."""
    if not tiles or any(not tile.stamp for tile in tiles):
        return tiles
    template = get_template(BOARD_TILE)
    done = []
    for tile in tiles:
        key, slot = _rendered_key(tile, is_org_admin=is_org_admin), (org.pk, tile.kpi.pk)
        html = rendered_tiles.get(slot, key)
        if html is None:
            # The partial takes only these names; the page's other context is not used.
            html = mark_safe(  # noqa: S308 - rendered by the autoescaping template engine
                template.render({"tile": tile, "is_org_admin": is_org_admin, "editing": False})
            )
            rendered_tiles.put(slot, key, html)
        done.append(replace(tile, html=html))
    return done


def _since(when: datetime | None, *, now: datetime, zone: tzinfo, locale: str) -> str:
    if when is None:
        return ""
    day = when.astimezone(zone).date()
    return "since " + format_short_date(day, locale=locale, today=now.astimezone(zone).date())
