"""The TV board (DESIGN §12): a full-screen board for a wall screen, at ``/tv/`` (signed in).

``render_tv_board`` is the one renderer of a TV board; ``/tv/`` uses it for the org's
published KPIs (``?team=<slug>`` is not offered yet), and the share links use it for a
signed-out board (``/s/{token}/``, with ``public=True``). The page has no navigation, large
type (title 36 px, value 96 px at 1920x1080, growing with the viewport), a dark theme by
default and a light one (``?theme=light|dark|auto``; ``auto`` follows the screen's
``prefers-color-scheme``), and the time of the newest value.

It refreshes by polling its fragment route with the ETag (``web/live.py``): an unchanged
board is a 304 and nothing on screen moves; a changed one replaces the board element
whole, so nothing accumulates however long it runs. When the tiles do not fit, the
client (``static/pulseboard/tv.js``) splits them into pages from the measured layout and
shows one page at a time, rotating every 20 s (``?rotate=`` seconds, 5 to 600).
``?every=`` sets the poll interval (seconds, 1 to 600, default 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlencode

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from pulseboard.core import clock
from pulseboard.indicators.formatting import format_short_date
from pulseboard.indicators.selectors import kpi_list_for_home
from pulseboard.orgs.localization import zone_of
from pulseboard.orgs.models import Organization
from pulseboard.web.access import MemberRequest, member_view
from pulseboard.web.live import (
    POLL_SECONDS,
    TV,
    board_stamp,
    conditional,
    etag_for,
    narrow,
    poll_attributes,
    poll_pass,
    poll_refused,
)
from pulseboard.web.tiles import Tile, tiles_for

THEMES = ("dark", "light", "auto")
DEFAULT_THEME = "dark"
ROTATE_SECONDS = 20
TV_BOARD_ID = "tv-board"
TV_PARTIAL = "tv_board"


def _seconds(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    text = request.GET.get(name, "")
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        return default
    return min(high, max(low, int(text)))


def tv_options(request: HttpRequest) -> dict[str, str | int]:
    """Theme, poll and rotation from the query string; anything odd falls back to the default."""
    theme = request.GET.get("theme", DEFAULT_THEME)
    return {
        "theme": theme if theme in THEMES else DEFAULT_THEME,
        "every": _seconds(request, "every", POLL_SECONDS, 1, 600),
        "rotate": _seconds(request, "rotate", ROTATE_SECONDS, 5, 600),
    }


def _newest_text(tiles: Sequence[Tile], org: Organization, now: datetime) -> tuple[str, str]:
    """("14:32, Dec 3" in the org's zone and locale, ISO) of the newest value shown; ("", "")."""
    moments = [t.kpi.observed_at for t in tiles if t.kpi.observed_at is not None]
    if not moments:
        return "", ""
    newest = max(moments)
    zone = zone_of(org.timezone)
    local = newest.astimezone(zone)
    day = format_short_date(local.date(), locale=org.locale, today=now.astimezone(zone).date())
    return f"{local:%H:%M}, {day}", newest.isoformat()


def render_tv_board(
    request: HttpRequest,
    *,
    org: Organization,
    tiles: Sequence[Tile],
    title: str,
    poll_url: str,
    etag: str = "",
    public: bool = False,
    now: datetime | None = None,
) -> TemplateResponse:
    """A TV board of ``tiles``: the whole page, or only the board for an htmx poll.

    ``poll_url`` answers the board's polls (its own query string is replaced by the
    board's options); ``etag`` is the ETag of the stamp the tiles were read after (the
    caller answers 304 itself, e.g. with ``web.live.conditional``). ``public`` boards
    (share links) show no source health, owners or notes: only title, value, status
    word, target phrase, change and sparkline, and the "stale" mark.
    """
    options = tv_options(request)
    moment = now or clock.now()
    newest, newest_iso = _newest_text(tiles, org, moment)
    # The poll asks with the page's own options, so the page and its polls share one ETag.
    query = {k: request.GET[k][:20] for k in ("theme", "every", "rotate") if k in request.GET}
    url = poll_url.split("?", 1)[0] + ("?" + urlencode(query) if query else "")
    context = {
        "org": org,
        "tiles": tiles,
        "title": title,
        "public": public,
        "newest": newest,
        "newest_iso": newest_iso,
        "theme": options["theme"],
        "rotate": options["rotate"],
        "poll": poll_attributes(
            url,
            etag,
            every=int(options["every"]),
            target=TV_BOARD_ID,
            # Public (share) boards have no session to bind a pass to.
            poll_pass="" if public else poll_pass(request, TV.kind, url, {}),
        ),
    }
    response = TemplateResponse(request, "web/tv.html", context)
    if request.headers.get("HX-Request") == "true":
        narrow(response, TV_PARTIAL)
    return response


def _org_board(request: MemberRequest) -> HttpResponseBase:
    org = request.org
    now = clock.now()
    etag = etag_for(request, "tv", board_stamp(org), now=now)

    def render() -> HttpResponseBase:
        kpis = list(kpi_list_for_home(org=org))
        return render_tv_board(
            request,
            org=org,
            tiles=tiles_for(org=org, kpis=kpis, now=now),
            title=org.name,
            poll_url=reverse("web:tv-board"),
            etag=etag,
            now=now,
        )

    if request.headers.get("HX-Request") == "true":
        return conditional(request, etag, render)
    return render()


@member_view
@require_GET
def tv(request: MemberRequest) -> HttpResponseBase:
    """/tv/: the org board, full screen."""
    return _org_board(request)


@require_GET
def tv_board(request: HttpRequest) -> HttpResponseBase:
    """/tv/board/: the board alone for the page's polls (304 when unchanged)."""
    if not request.user.is_authenticated or getattr(request, "org", None) is None:
        return poll_refused()
    member: MemberRequest = request  # type: ignore[assignment]
    return _org_board(member)
