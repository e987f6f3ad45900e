"""Per-request session work: the request's organization, and the session's idle timeout.

``CurrentOrgMiddleware`` attaches the request's organization and membership
(``request.org``, ``request.membership``). A user in several orgs picks one; the choice
lives in the session. Every web view reads the org from here, never from a URL
parameter, so another org's data is unreachable by construction.

``SessionIdleMiddleware`` makes ``SESSION_COOKIE_AGE`` (``PULSEBOARD_SESSION_IDLE_MINUTES``)
an idle timeout. Django expires a session that long after it was last *saved*;
``SESSION_SAVE_EVERY_REQUEST`` would keep active sessions alive at the cost of one
database write per page view. Instead a signed-in session is re-saved only when its
last refresh is older than ``SESSION_REFRESH_SECONDS`` (a tenth of the timeout, at most
an hour): one write per interval per active user, and a session ends between
timeout minus interval and timeout after its last request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from pulseboard.core import clock
from pulseboard.orgs.models import Membership, Organization
from pulseboard.orgs.selectors import membership_list_for_user

SESSION_KEY = "pulseboard_org_id"
REFRESHED_KEY = "pulseboard_refreshed_at"


class SessionIdleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(clock.now().timestamp())
            refreshed = request.session.get(REFRESHED_KEY)
            config: Mapping[str, Any] = settings.PULSEBOARD
            interval = int(config["SESSION_REFRESH_SECONDS"])
            if not isinstance(refreshed, int) or not 0 <= now - refreshed < interval:
                # A changed session is saved, which moves its expiry (and the cookie's)
                # a full SESSION_COOKIE_AGE ahead.
                request.session[REFRESHED_KEY] = now
        return self.get_response(request)


class OrgAwareRequest(HttpRequest):
    """A request after ``CurrentOrgMiddleware``: the active org and membership, if any."""

    org: Organization | None
    membership: Membership | None
    memberships: list[Membership]


class CurrentOrgMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, plain: HttpRequest) -> HttpResponse:
        request = cast(OrgAwareRequest, plain)
        request.org = None
        request.membership = None
        request.memberships = []
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = list(membership_list_for_user(user=user))  # type: ignore[arg-type]
            wanted = request.session.get(SESSION_KEY)
            chosen = next((m for m in memberships if m.org_id == wanted), None)
            if chosen is None and memberships:
                chosen = memberships[0]
            if chosen is not None:
                request.org = chosen.org
                request.membership = chosen
            request.memberships = memberships
        return self.get_response(request)
