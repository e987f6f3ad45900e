"""Who may open a web page: the decorators every view wears, and the error mapping.

``member_view``: signed in and a member of an org (the org comes from the session,
never from the URL). ``admin_view``: the same, and an admin of that org, else 403.
Both turn a selector's ``NotFound`` into a 404, so another org's object and a
missing one look the same.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeAlias, cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render

from pulseboard.core.actors import Actor
from pulseboard.core.client_address import client_ip
from pulseboard.core.errors import NotFound
from pulseboard.orgs.middleware import OrgAwareRequest
from pulseboard.orgs.models import Membership, Organization, User

View: TypeAlias = Callable[..., HttpResponseBase]


class MemberRequest(HttpRequest):
    """What a ``member_view`` or ``admin_view`` receives: a signed-in member of an org.

    The decorators check what ``OrgAwareRequest`` leaves open, so views read
    ``request.org`` and ``request.membership`` without a None check.
    """

    user: User
    org: Organization
    membership: Membership
    memberships: list[Membership]


def member_view(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if cast(OrgAwareRequest, request).org is None:
            return render(request, "web/no_org.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return wrapped


def admin_view(view: View) -> View:
    @wraps(view)
    def checked(request: MemberRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.membership.is_admin:
            return render(request, "web/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return member_view(checked)


def actor_of(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, client_ip(request))


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
