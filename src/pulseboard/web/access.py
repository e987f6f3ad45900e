"""Who may open a web page: the decorators every view wears, and the error mapping.

``member_view``: signed in and a member of an org (the org comes from the session,
never from the URL). ``admin_view``: the same, and an admin of that org, else 403.
Both turn a selector's ``NotFound`` into a 404, so another org's object and a
missing one look the same.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeAlias

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render

from pulseboard.core.actors import Actor
from pulseboard.core.client_address import client_ip
from pulseboard.core.errors import NotFound

View: TypeAlias = Callable[..., HttpResponseBase]


def member_view(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.org is None:  # type: ignore[attr-defined]
            return render(request, "web/no_org.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return wrapped


def admin_view(view: View) -> View:
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.membership.is_admin:  # type: ignore[attr-defined]
            return render(request, "web/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return member_view(checked)


def actor_of(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user, client_ip(request))


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
