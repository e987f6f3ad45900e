"""Attach the request's organization and membership (``request.org``, ``request.membership``).

A user in several orgs picks one; the choice lives in the session. Every web view
reads the org from here, never from a URL parameter, so another org's data is
unreachable by construction.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from pulseboard.orgs.selectors import membership_list_for_user

SESSION_KEY = "pulseboard_org_id"


class CurrentOrgMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.org = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = list(membership_list_for_user(user=user))  # type: ignore[arg-type]
            wanted = request.session.get(SESSION_KEY)
            chosen = next((m for m in memberships if m.org_id == wanted), None)
            if chosen is None and memberships:
                chosen = memberships[0]
            if chosen is not None:
                request.org = chosen.org  # type: ignore[attr-defined]
                request.membership = chosen  # type: ignore[attr-defined]
            request.memberships = memberships  # type: ignore[attr-defined]
        return self.get_response(request)
