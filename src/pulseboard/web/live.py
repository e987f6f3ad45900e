"""Live pages (DESIGN §12): a board's change stamp, its ETag, and the conditional GET.

A page that updates itself (Home, a team board, a KPI's detail page, Goals, the TV board)
wraps its board in a container that htmx polls every ~10 s with the ETag it was rendered
with (``If-None-Match``, sent through ``hx-headers``). An unchanged board answers
``304 Not Modified`` with no body after ONE query: the board's *change stamp*.

A stamp is computed in a single SQL statement, anchored on the org's row, with one scalar
subquery per thing that can change what the board shows:

- KPIs: ``COUNT(*)`` and ``MAX(updated_at)`` of the org's KPIs, answered from the index
  ``kpi_org_changed`` (org, updated_at). Every write that changes what a tile shows (a
  value, an edit, publish/unpublish, the worker's time-based pass) bumps ``updated_at``;
  a deletion changes the count. Drafts are counted too: a board re-renders a little
  more often than strictly needed, never less.
- annotations (a tile shows the newest one), counted and newest ``created_at``;
- the sources' newest ``last_pulled_at`` (a failing pull marks its tile without a value);
- for Goals: cycles, objectives and key results (count and newest ``updated_at``).

The ETag hashes the stamp with everything else the rendering depends on: the board's
kind, the org's locale and time zone (already loaded by the org middleware, no query),
the viewer's role (admins see more), the query string (range, page, cycle…), a template
version, and the current minute (relative times such as "updated 3 min ago" stay true
at most a minute late; an unchanged board re-renders once a minute).

Compute the stamp BEFORE reading the board: a change between the two makes the page's
ETag older than its content, so the next poll renders again (never the other way round).

Use on a page view (``live_page``) plus a fragment route (``live_fragment``, mounted in
``web/urls_live.py``); see docs/live.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, wraps
from typing import Any, cast

from django.conf import settings
from django.core import signing
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.http.response import HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pulseboard.connectors.models import Source
from pulseboard.core import clock
from pulseboard.goals.models import Cycle, KeyResult, Objective
from pulseboard.history.models import Annotation
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.middleware import OrgAwareRequest
from pulseboard.orgs.models import Organization
from pulseboard.web.access import MemberRequest

# Default poll interval of live pages (seconds); DESIGN §12 wants a new value within 15 s.
POLL_SECONDS = 10
# Bump when a board's markup changes in a way an old ETag must not match.
TEMPLATE_VERSION = "1"
# Relative times ("updated 3 min ago") are re-rendered at most this late.
RELATIVE_TIME_SECONDS = 60
# If-None-Match: longer headers, or more tags, are treated as no match (never an error).
MAX_IF_NONE_MATCH = 1024
MAX_TAGS = 16
# The header carrying a signed poll pass (see web/live_poll.py).
POLL_PASS_HEADER = "X-Pulseboard-Poll"
_ENTITY_TAG = re.compile(r'^(?:W/)?"[\x21\x23-\x7e]{0,200}"$')
# The id of the container a live page polls (and the partial that renders it).
BOARD_ID = "live-board"
PARTIAL = "live_board"

Stamp = tuple[Any, ...]


# --- change stamps: one query each ---------------------------------------------------------
#
# Hand-written SQL, built once per process from the models' table and column names:
# building the same statement with the ORM (five scalar subqueries) cost ~9 ms of Python
# per poll, ten times the query itself, and an unchanged poll is meant to be cheap.


def _name(model: type[Any], field: str | None = None) -> str:
    quote = connection.ops.quote_name
    meta = model._meta
    return quote(meta.db_table if field is None else meta.get_field(field).column)


def _scalar(function: str, model: type[Any], field: str, where: str) -> str:
    # Only model names and literals go into the text; values are always parameters.
    return f"(SELECT {function}({_name(model, field)}) FROM {_name(model)} WHERE {where})"  # noqa: S608


def _kpi_board_parts() -> list[str]:
    org = "{} = %s"
    return [
        _scalar("COUNT", Kpi, "id", org.format(_name(Kpi, "org"))),
        _scalar("MAX", Kpi, "updated_at", org.format(_name(Kpi, "org"))),
        _scalar("COUNT", Annotation, "id", org.format(_name(Annotation, "org"))),
        _scalar("MAX", Annotation, "created_at", org.format(_name(Annotation, "org"))),
        _scalar("MAX", Source, "last_pulled_at", org.format(_name(Source, "org"))),
    ]


@cache
def _board_sql() -> str:
    return "SELECT " + ", ".join(_kpi_board_parts())


@cache
def _goals_sql() -> str:
    parts = _kpi_board_parts()
    for model in (Cycle, Objective, KeyResult):
        org = f"{_name(model, 'org')} = %s"
        parts += [_scalar("COUNT", model, "id", org), _scalar("MAX", model, "updated_at", org)]
    return "SELECT " + ", ".join(parts)


@cache
def _kpi_sql() -> str:
    kpi_id = f"k.{_name(Kpi, 'id')}"
    parts = [
        f"k.{_name(Kpi, 'updated_at')}",
        f"k.{_name(Kpi, 'observed_at')}",
        _scalar("COUNT", Annotation, "id", f"{_name(Annotation, 'kpi')} = {kpi_id}"),
        _scalar("MAX", Annotation, "created_at", f"{_name(Annotation, 'kpi')} = {kpi_id}"),
        _scalar("MAX", Source, "last_pulled_at", f"{_name(Source, 'kpi')} = {kpi_id}"),
        _scalar("COUNT", KeyResult, "id", f"{_name(KeyResult, 'kpi')} = {kpi_id}"),
        _scalar("MAX", KeyResult, "updated_at", f"{_name(KeyResult, 'kpi')} = {kpi_id}"),
    ]
    return (
        f"SELECT {', '.join(parts)} FROM {_name(Kpi)} k "  # noqa: S608
        f"WHERE k.{_name(Kpi, 'org')} = %s AND {kpi_id} = %s"
    )


def _row(sql: str, params: Sequence[Any]) -> Stamp:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        found = cursor.fetchone()
    return tuple(found) if found is not None else ()


def board_stamp(org: Organization) -> Stamp:
    """The change stamp of a KPI board: Home, a team board, the TV board (one query)."""
    return _row(_board_sql(), [org.pk] * 5)


def goals_stamp(org: Organization) -> Stamp:
    """The change stamp of the Goals page: goals and the KPIs key results follow (one query)."""
    return _row(_goals_sql(), [org.pk] * 11)


def kpi_stamp(org: Organization, kpi_id: str) -> Stamp:
    """The change stamp of one KPI's detail page (one query); () for no such KPI here."""
    if not isinstance(kpi_id, str) or len(kpi_id) > 64 or "\x00" in kpi_id:
        return ()
    return _row(_kpi_sql(), [org.pk, kpi_id])


# --- ETag and the conditional GET ----------------------------------------------------------


def context_digest(request: HttpRequest) -> str:
    """What a board's rendering depends on besides its stamp: org, locale, zone, role, query."""
    org = cast(OrgAwareRequest, request).org
    membership = cast(OrgAwareRequest, request).membership
    parts = [
        org.pk if org else None,
        org.locale if org else None,
        org.timezone if org else None,
        membership.role if membership else None,
        sorted((name, ",".join(values)[:200]) for name, values in list(request.GET.lists())[:20]),
    ]
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=12).hexdigest()


def _etag(kind: str, stamp: Stamp, context: str, moment: datetime) -> str:
    parts = [
        TEMPLATE_VERSION,
        kind,
        [_plain(v) for v in stamp],
        context,
        int(moment.timestamp()) // RELATIVE_TIME_SECONDS,
    ]
    digest = hashlib.blake2b(json.dumps(parts, default=str).encode(), digest_size=12)
    return f'"{digest.hexdigest()}"'


def etag_for(request: HttpRequest, kind: str, stamp: Stamp, *, now: datetime | None = None) -> str:
    """A strong, quoted ETag for a board rendered for this request from ``stamp``."""
    return _etag(kind, stamp, context_digest(request), now or clock.now())


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def if_none_match(request: HttpRequest) -> list[str]:
    """The entity tags of If-None-Match, or [] for a missing, over-long or malformed header."""
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not isinstance(header, str) or not header or len(header) > MAX_IF_NONE_MATCH:
        return []
    tags = [tag.strip() for tag in header.split(",")]
    if len(tags) > MAX_TAGS:
        return []
    if tags == ["*"]:
        return tags
    if not all(_ENTITY_TAG.match(tag) for tag in tags):
        return []
    return tags


def matches(request: HttpRequest, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): the client already has this board."""
    tags = if_none_match(request)
    if tags == ["*"]:
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == opaque for tag in tags)


def not_modified(etag: str) -> HttpResponseNotModified:
    response = HttpResponseNotModified()
    _cache_headers(response, etag)
    return response


def _cache_headers(response: HttpResponseBase, etag: str) -> None:
    response["ETag"] = etag
    # Revalidate every time; private: it is one member's view of one org.
    response["Cache-Control"] = "private, no-cache"


def poll_attributes(
    url: str,
    etag: str,
    *,
    every: int = POLL_SECONDS,
    target: str = BOARD_ID,
    poll_pass: str = "",
) -> SafeString:
    """The htmx attributes of a polled container: GET ``url`` every ``every`` s with the ETag.

    htmx sends If-None-Match only because ``hx-headers`` says so; a 304 swaps nothing
    (the ``responseHandling`` rule in base.html and tv.html, and live.js as a backstop),
    a 200 replaces the container itself (outerHTML), carrying the next ETag. Nothing is
    inherited by the board's own controls (``hx-disinherit``): an inline edit inside it
    must not pick up the poll's ``hx-select`` or headers. ``poll_pass``
    (``live_poll.poll_pass``) lets an unchanged poll be answered before the session is read.
    """
    sent = {"If-None-Match": etag} if etag else {}
    if etag and poll_pass:
        sent[POLL_PASS_HEADER] = poll_pass
    headers = json.dumps(sent)
    return format_html(
        'hx-get="{}" hx-trigger="every {}s" hx-swap="outerHTML" hx-select="#{}" '
        'hx-headers="{}" hx-disinherit="*" data-live-poll',
        url,
        every,
        target,
        headers,
    )


# --- poll passes: an unchanged poll answered before the session is read ------------------
#
# Checking a session costs three queries (session, user, membership); an unchanged poll is
# meant to cost one. A page rendered for a signed-in member therefore carries a short-lived
# signed *pass* naming its board, org, rendering context and poll path, bound to the
# browser's session cookie. ``LivePollMiddleware`` (web/live_poll.py) answers a poll whose
# pass is valid and whose If-None-Match still matches with a 304 after the one stamp query;
# anything else (changed board, expired or foreign pass, no cookie) takes the full path
# (session, membership, rendering), so a 200 is only ever sent to a checked member. What
# a pass can reveal after its member lost access: for at most POLL_PASS_SECONDS, that the
# board has not changed.

POLL_PASS_SECONDS = 300
_PASS_SALT = "pulseboard.live.poll-pass"
MAX_POLL_PASS = 2000


def _session_tag(request: HttpRequest) -> str:
    cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if not cookie:
        return ""
    return hashlib.blake2b(cookie.encode(), digest_size=12).hexdigest()


def poll_pass(request: HttpRequest, kind: str, url: str, kwargs: dict[str, Any]) -> str:
    """A signed pass for polls of this board from this browser session ("" if none)."""
    org: Organization | None = getattr(request, "org", None)
    session = _session_tag(request)
    if org is None or not session or kind not in BOARDS:
        return ""
    payload = {
        "k": kind,
        "o": org.pk,
        "a": {name: str(value) for name, value in kwargs.items()},
        "c": context_digest(request),
        "s": session,
        "p": url.split("?", 1)[0],
    }
    return signing.dumps(payload, salt=_PASS_SALT)


@dataclass(frozen=True)
class _OrgRef:
    pk: int


def answer_from_pass(request: HttpRequest) -> HttpResponseBase | None:
    """A 304 for an unchanged board of a valid pass, or None: take the full path."""
    token = request.META.get("HTTP_X_PULSEBOARD_POLL", "")
    if (
        request.method != "GET"
        or not token
        or len(token) > MAX_POLL_PASS
        or not if_none_match(request)
    ):
        return None
    try:
        payload = signing.loads(token, salt=_PASS_SALT, max_age=POLL_PASS_SECONDS)
        kind, org_id, kwargs = payload["k"], int(payload["o"]), dict(payload["a"])
        context, session, path = str(payload["c"]), str(payload["s"]), str(payload["p"])
    except Exception:
        return None
    board = BOARDS.get(kind)
    if board is None or path != request.path or session != _session_tag(request):
        return None
    stamp = board.stamp(_OrgRef(org_id), **kwargs)
    if not stamp:
        return None
    etag = _etag(kind, stamp, context, clock.now())
    return not_modified(etag) if matches(request, etag) else None


# --- wiring pages and fragment routes ------------------------------------------------------


@dataclass(frozen=True)
class Board:
    """A live board: how its stamp is computed and which route answers its polls."""

    kind: str
    stamp: Callable[..., Stamp]  # (org, **view kwargs) -> Stamp; only org.pk is read
    poll_route: str  # URL name of the fragment route (kwargs: the page view's)

    def __post_init__(self) -> None:
        BOARDS[self.kind] = self


# Every board by kind: the poll fast path (web/live_poll.py) finds a pass's stamp here.
BOARDS: dict[str, Board] = {}


def _stamp_of(board: Board, request: MemberRequest, kwargs: dict[str, Any]) -> Stamp:
    return board.stamp(request.org, **kwargs)


def _poll_url(board: Board, request: HttpRequest, kwargs: dict[str, Any]) -> str:
    url = reverse(board.poll_route, kwargs=kwargs or None)
    query = request.GET.urlencode()
    return f"{url}?{query}" if query and len(query) <= 1000 else url


def live_page(
    board: Board,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Decorate a page view (inside ``member_view``) so its template can poll its board.

    Sets ``request.live_attrs`` (the container's htmx attributes, with the ETag of the
    stamp taken before the view reads anything); the template writes
    ``<div id="live-board" {{ request.live_attrs }}>`` around the board, in a partial
    named ``live_board``.
    """

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not hasattr(request, "live_attrs"):
                etag = etag_for(request, board.kind, _stamp_of(board, request, kwargs))
                url = _poll_url(board, request, kwargs)
                request.live_attrs = poll_attributes(  # type: ignore[attr-defined]
                    url, etag, poll_pass=poll_pass(request, board.kind, url, kwargs)
                )
            return view(request, *args, **kwargs)

        wrapped.live_board = board  # type: ignore[attr-defined]
        return wrapped

    return decorate


def poll_refused() -> HttpResponse:
    """A poll from a session that ended: no swap, and the page reloads (to the login page)."""
    response = HttpResponse(status=401)
    response["HX-Refresh"] = "true"
    response["Cache-Control"] = "no-store"
    return response


def conditional(
    request: HttpRequest, etag: str, render: Callable[[], HttpResponseBase]
) -> HttpResponseBase:
    """304 when the client has ``etag``; else ``render()`` with the ETag and cache headers."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse("Polls are GET requests.", status=405, headers={"Allow": "GET, HEAD"})
    if matches(request, etag):
        return not_modified(etag)
    response = render()
    if response.status_code == 200:
        _cache_headers(response, etag)
    return response


def live_fragment(page_view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The fragment route of a page decorated with ``live_page``: 304 or just its board.

    The page view answers as usual; a ``TemplateResponse`` is narrowed to the template's
    ``live_board`` partial (a plain response is sent whole, and ``hx-select`` picks the
    board out of it). Signed-out or org-less polls get 401 with ``HX-Refresh``.
    """
    board: Board = getattr(page_view, "live_board")  # noqa: B009

    @wraps(page_view)
    def fragment(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        aware = cast(OrgAwareRequest, request)
        if not request.user.is_authenticated or aware.org is None:
            return poll_refused()
        member = cast(MemberRequest, request)
        stamp = _stamp_of(board, member, kwargs)
        etag = etag_for(request, board.kind, stamp)

        def render() -> HttpResponseBase:
            url = _poll_url(board, request, kwargs)
            member.live_attrs = poll_attributes(  # type: ignore[attr-defined]
                url, etag, poll_pass=poll_pass(request, board.kind, url, kwargs)
            )
            response = page_view(request, *args, **kwargs)
            narrow(response, PARTIAL)
            if response.status_code == 404:
                # The board is gone (deleted, unpublished): reload to show the page's own 404.
                response["HX-Refresh"] = "true"
            return response

        if not stamp:
            # Nothing here by that id: the page's own answer (404), never a 304 for "*".
            return render()
        return conditional(request, etag, render)

    return fragment


def narrow(response: HttpResponseBase, partial: str) -> None:
    """Render only ``partial`` of a not-yet-rendered TemplateResponse."""
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        name = response.template_name
        if isinstance(name, str) and "#" not in name:
            response.template_name = f"{name}#{partial}"
        elif isinstance(name, Sequence) and not isinstance(name, str):
            response.template_name = [f"{n}#{partial}" for n in name if isinstance(n, str)]


HOME = Board(kind="home", stamp=lambda org: board_stamp(org), poll_route="web:live-home")
KPI_DETAIL = Board(
    kind="kpi", stamp=lambda org, kpi_id: kpi_stamp(org, kpi_id), poll_route="web:live-kpi"
)
GOALS = Board(kind="goals", stamp=lambda org: goals_stamp(org), poll_route="web:live-goals")
# The signed-in TV board (web/views/tv.py answers its own polls; the pass is this board's).
TV = Board(kind="tv", stamp=lambda org: board_stamp(org), poll_route="web:tv-board")
