"""Share links on the web (DESIGN §12): the admins' settings page, and the public routes.

Settings → Share links (admins): list, create (the URL is shown once: only the
token's hash is kept), revoke.

Public routes, reached by the token in the URL and nothing else (no login, no
session written, no org from the visitor's session):

- ``/s/<token>/``: the TV board of the link's KPIs (``web/views/tv.py``'s renderer, in
  its public mode), polled with a conditional GET: an unchanged board is a 304 after
  the one query that resolves the token and reads the board's change stamp;
- ``/s/<token>/kpis/<kpi_id>.svg``: a badge; ``…/<kpi_id>/tile.svg``: a tile image
  (``web/badges.py``).

An unknown, malformed, revoked or expired token, and a KPI the link does not show
(another org's, a draft, not chosen), all get the same 404 body (the one a path
with a NUL byte gets from ``core/request_guard.py``). Each link is rate-limited
(``sharing/rate_limit.py``; 429 with ``Retry-After``). Only these routes may be
framed by other sites: they drop ``X-Frame-Options`` and answer with
``frame-ancestors *``; every other page keeps ``DENY`` / ``'none'``. They send
``Referrer-Policy: no-referrer``, since the token is in the URL.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from pulseboard.core import clock
from pulseboard.core.errors import ValidationFailed
from pulseboard.sharing.models import ShareLink
from pulseboard.sharing.rate_limit import share_windows
from pulseboard.sharing.selectors import (
    share_link_choices,
    share_link_get,
    share_link_is_active,
    share_link_kpi,
    share_link_kpis,
    share_link_list,
    share_link_resolve,
    share_link_stamp,
    share_url,
)
from pulseboard.sharing.services import share_link_create, share_link_revoke
from pulseboard.web.access import MemberRequest, actor_of, admin_view, is_htmx
from pulseboard.web.badges import badge_svg, tile_svg
from pulseboard.web.forms import add_errors
from pulseboard.web.live import RELATIVE_TIME_SECONDS, conditional
from pulseboard.web.share_forms import ShareLinkForm
from pulseboard.web.tiles import Tile, tiles_for
from pulseboard.web.views.tv import render_tv_board, tv_options

# Byte for byte the answer core.request_guard gives a path with a NUL in it.
NOT_FOUND_BODY = "<!doctype html><title>Not found</title><h1>Not found</h1>"
BADGE_MAX_AGE = 60
# Share responses may be framed anywhere; an SVG document may load and run nothing.
BOARD_CSP = {"frame-ancestors": ["*"]}
SVG_CSP = {
    "default-src": ["'none'"],
    "script-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "img-src": ["'none'"],
    "frame-ancestors": ["*"],
}
ShareView = Callable[..., HttpResponseBase]


# --- Settings → Share links ----------------------------------------------------------------


def _page(
    request: MemberRequest, *, form: ShareLinkForm | None = None, status: int = 200, **extra: Any
) -> HttpResponse:
    kpis, teams = share_link_choices(org=request.org)
    now = clock.now()
    links = list(share_link_list(org=request.org))
    context = {
        "links": [(link, share_link_is_active(link, now=now)) for link in links],
        "form": form or ShareLinkForm(kpis=kpis, teams=teams),
        "has_teams": bool(teams),
        **extra,
    }
    return render(request, "web/share_links.html", context, status=status)


@admin_view
@require_GET
def share_links(request: MemberRequest) -> HttpResponse:
    return _page(request)


@admin_view
@require_POST
def share_link_new(request: MemberRequest) -> HttpResponse:
    kpis, teams = share_link_choices(org=request.org)
    form = ShareLinkForm(request.POST, kpis=kpis, teams=teams)
    if form.is_valid():
        try:
            link, token = share_link_create(
                org=request.org, actor=actor_of(request), **form.service_data()
            )
        except ValidationFailed as exc:
            add_errors(form, exc)
        else:
            url = share_url(token)
            badges = [
                (kpi, badge_url(url, kpi.pk), badge_url(url, kpi.pk, tile=True))
                for kpi in share_link_kpis(link=link)
            ]
            response = _page(request, new_link=link, new_url=url, badges=badges)
            add_never_cache_headers(response)
            return response
    return _page(request, form=form, status=422)


@admin_view
@require_POST
def share_link_revoke_view(request: MemberRequest, share_link_id: str) -> HttpResponse:
    link = share_link_get(org=request.org, link_id=share_link_id)
    if link.revoked_at is not None:
        messages.info(request, f"“{link.name}” was already revoked.")
    else:
        share_link_revoke(link=link, actor=actor_of(request))
        messages.success(request, f"Revoked “{link.name}”: its board and badges now answer 404.")
    return redirect("web:share-links")


# --- public share routes -------------------------------------------------------------------


def not_found() -> HttpResponse:
    response = HttpResponse(NOT_FOUND_BODY, status=404, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _public(response: HttpResponseBase, request: HttpRequest, csp: dict[str, list[str]]) -> None:
    """Headers of every share answer; and the visitor's session is neither read nor written."""
    response["Referrer-Policy"] = "no-referrer"
    response.xframe_options_exempt = True  # type: ignore[attr-defined]
    response._csp_replace = csp  # type: ignore[attr-defined]
    session = getattr(request, "session", None)
    if session is not None:
        # A signed-in visitor's session may have been touched by the session middlewares;
        # a share page leaves it as it was (no Set-Cookie, no Vary: Cookie).
        session.modified = False
        session.accessed = False


def share_view(
    *, csp: dict[str, list[str]], stamp: bool = False
) -> Callable[[ShareView], ShareView]:
    """GET/HEAD only; the token resolved (or the one 404); the link's rate limit; headers."""

    def decorate(view: ShareView) -> ShareView:
        @xframe_options_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, token: str, **kwargs: Any) -> HttpResponseBase:
            response: HttpResponseBase
            if request.method not in ("GET", "HEAD"):
                response = HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
            else:
                now = clock.now()
                link = share_link_resolve(token=token, now=now, stamp=stamp)
                wait = (
                    None if link is None else share_windows.take(link.pk, timestamp=now.timestamp())
                )
                if link is None:
                    response = not_found()
                elif wait is not None:
                    response = HttpResponse(
                        f"Too many requests for this share link; try again in {wait} s.",
                        status=429,
                        content_type="text/plain; charset=utf-8",
                        headers={"Retry-After": str(wait), "Cache-Control": "no-store"},
                    )
                else:
                    response = view(request, link, now=now, **kwargs)
            _public(response, request, csp)
            return response

        return wrapped

    return decorate


@xframe_options_exempt
def share_nothing(request: HttpRequest, token: str, rest: str) -> HttpResponseBase:
    """A path under ``/s/<token>/`` that names nothing: the one share 404, token or not."""
    response = not_found()
    _public(response, request, BOARD_CSP)
    return response


def _etag(request: HttpRequest, link: ShareLink, now: datetime) -> str:
    options = tv_options(request)
    parts = [
        "share",
        list(share_link_stamp(link)),
        sorted(options.items()),
        int(now.timestamp()) // RELATIVE_TIME_SECONDS,
    ]
    digest = hashlib.blake2b(json.dumps(parts, default=str).encode(), digest_size=12)
    return f'"{digest.hexdigest()}"'


@share_view(csp=BOARD_CSP, stamp=True)
def share_board(request: HttpRequest, link: ShareLink, *, now: datetime) -> HttpResponseBase:
    """The link's TV board; its polls (htmx) get a 304 while nothing changed."""
    etag = _etag(request, link, now)

    def board() -> HttpResponseBase:
        tiles = tiles_for(org=link.org, kpis=share_link_kpis(link=link), now=now, notes=False)
        response = render_tv_board(
            request,
            org=link.org,
            tiles=tiles,
            title=link.name,
            poll_url=request.path,
            etag=etag,
            public=True,
            now=now,
        )
        response["Cache-Control"] = "private, no-cache"
        return response

    if is_htmx(request):
        return conditional(request, etag, board)
    return board()


def _tile(link: ShareLink, kpi_id: str, now: datetime, *, sparklines: bool) -> Tile | None:
    kpi = share_link_kpi(link=link, kpi_id=kpi_id)
    if kpi is None:
        return None
    (tile,) = tiles_for(org=link.org, kpis=[kpi], now=now, sparklines=sparklines, notes=False)
    return tile


class RenderedImages:
    """Badges and tiles as rendered a moment ago, per process: (link, KPI, kind) -> SVG or None.

    Rendering a KPI's card costs a few queries; an image embedded in a busy wiki page is
    asked for many times a second. For ``IMAGE_SECONDS`` the rendered document (or the
    fact that the link does not show that KPI) is reused. The token is still resolved on
    every request, so a revoked or expired link answers 404 at once; a new value or an
    unpublished KPI shows at most ``IMAGE_SECONDS`` late (browsers keep the image
    ``BADGE_MAX_AGE`` anyway). Bounded: full, it starts afresh.
    """

    def __init__(self, seconds: float, size: int = 4096) -> None:
        self.seconds, self.size = seconds, size
        self._lock = threading.Lock()
        self._rendered: dict[tuple[str, str, str], tuple[float, str | None]] = {}

    def get(self, key: tuple[str, str, str], now: float) -> tuple[bool, str | None]:
        with self._lock:
            found = self._rendered.get(key)
        if found is None or found[0] <= now:
            return False, None
        return True, found[1]

    def put(self, key: tuple[str, str, str], document: str | None, now: float) -> None:
        with self._lock:
            if len(self._rendered) >= self.size:
                self._rendered = {}
            self._rendered[key] = (now + self.seconds, document)


IMAGE_SECONDS = 10
rendered_images = RenderedImages(IMAGE_SECONDS)


def _image(
    link: ShareLink, kpi_id: str, now: datetime, kind: str, draw: Callable[[Tile], str]
) -> HttpResponse:
    key, moment = (link.pk, kpi_id, kind), now.timestamp()
    known, document = rendered_images.get(key, moment)
    if not known:
        tile = _tile(link, kpi_id, now, sparklines=kind == "tile")
        document = None if tile is None else draw(tile)
        rendered_images.put(key, document, moment)
    return not_found() if document is None else _svg(document)


def _svg(document: str) -> HttpResponse:
    response = HttpResponse(document, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={BADGE_MAX_AGE}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@share_view(csp=SVG_CSP)
def share_badge(
    request: HttpRequest, link: ShareLink, *, now: datetime, kpi_id: str
) -> HttpResponseBase:
    def draw(tile: Tile) -> str:
        card = tile.card
        return badge_svg(
            title=card.kpi.title,
            value=card.formatted_value,
            status=card.status,
            status_word=tile.status_text,
        )

    return _image(link, kpi_id, now, "badge", draw)


@share_view(csp=SVG_CSP)
def share_tile(
    request: HttpRequest, link: ShareLink, *, now: datetime, kpi_id: str
) -> HttpResponseBase:
    def draw(tile: Tile) -> str:
        card = tile.card
        return tile_svg(
            title=card.kpi.title,
            value=card.formatted_value,
            status=card.status,
            status_word=tile.status_text,
            target_phrase=card.target_phrase,
            change_text=card.change_text,
            points=card.sparkline,
        )

    return _image(link, kpi_id, now, "tile", draw)


def badge_url(link_url: str, kpi_id: str, *, tile: bool = False) -> str:
    """The badge (or tile image) address of a KPI under a board's URL (for the settings page)."""
    base = link_url.rstrip("/")
    return f"{base}/kpis/{kpi_id}/tile.svg" if tile else f"{base}/kpis/{kpi_id}.svg"
