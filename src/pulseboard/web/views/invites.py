"""Accepting an invite link (/invite/<token>/): public, since the invitee may have no account.

Signed in: one button joins the invite's org. Signed out: a short form creates
the account (or a link to log in first and come back). Expired, used and
unknown links say so and offer nothing to submit. Whether a typed address already
has an account shows only where it cannot be avoided (``orgs.services.invite_accept``),
and attempts are throttled per client and per link (429 with Retry-After).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from pulseboard.core import clock
from pulseboard.core.client_address import client_ip
from pulseboard.core.errors import DomainError, NotFound
from pulseboard.orgs.invite_throttle import InviteThrottled
from pulseboard.orgs.middleware import SESSION_KEY
from pulseboard.orgs.selectors import invite_get_by_token
from pulseboard.orgs.services import invite_accept as accept
from pulseboard.orgs.services import invite_problem
from pulseboard.web.forms import JoinForm, add_errors


def _render(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, "web/invite.html", context, status=status)
    # The URL carries the token: keep it out of caches. Referer headers already stay on
    # this site (SECURE_REFERRER_POLICY = "same-origin"); "no-referrer" would make the
    # browser send "Origin: null" with the form, which CSRF protection rightly refuses.
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invite = invite_get_by_token(token=token)
    except NotFound as exc:
        return _render(request, {"problem": exc.message}, status=404)
    problem = invite_problem(invite, now=clock.now())
    if problem:
        return _render(request, {"problem": problem, "invite": invite}, status=410)
    signed_in = request.user.is_authenticated
    form = JoinForm(request.POST or None, initial={"email": invite.email})
    context: dict[str, Any] = {"invite": invite, "form": form, "signed_in": signed_in}
    if request.method == "GET":
        return _render(request, context)
    try:
        if signed_in:
            membership = accept(token=token, user=request.user, ip=client_ip(request))  # type: ignore[arg-type]
        elif form.is_valid():
            membership = accept(
                token=token,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            )
            login(request, membership.user)
        else:
            return _render(request, context, status=422)
    except DomainError as exc:
        if exc.errors and not signed_in:
            add_errors(form, exc)
        else:
            context["error"] = exc.message
        response = _render(request, context, status=exc.status)
        if isinstance(exc, InviteThrottled):
            response["Retry-After"] = str(exc.retry_after)
        return response
    request.session[SESSION_KEY] = membership.org_id
    messages.success(request, f"Welcome to {membership.org.name}.")
    return redirect("web:home")
