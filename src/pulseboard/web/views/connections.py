"""Profile → Connections: each member's own Google connections (connect, disconnect).

Every page lists only the signed-in user's connections in the current org, admins
included; another user's connection id answers 404. Connecting runs the OAuth 2
authorization code flow: the state and the PKCE verifier live in the server-side
session between the redirect to Google and the callback, and are used once. Only
admins connect (only admins bind KPIs); anyone may disconnect their own.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pulseboard.connectors.sheets.oauth import (
    ConnectionFailed,
    authorization_start,
    google_settings,
)
from pulseboard.connectors.sheets.selectors import (
    connection_get_for_user,
    connection_list_for_user,
)
from pulseboard.connectors.sheets.services import connection_create, connection_disconnect
from pulseboard.orgs.models import User
from pulseboard.web.access import MemberRequest, actor_of, member_view

FLOW_SESSION_KEY = "pulseboard_google_flow"
MAX_PARAM_LENGTH = 2048
ADMINS_ONLY = "Only admins connect Google accounts: only admins bind KPIs."


def redirect_uri() -> str:
    """The callback URL Google sends the browser back to; must be registered verbatim."""
    return str(settings.PULSEBOARD["BASE_URL"]) + reverse("web:connections-callback")


def _page(request: MemberRequest, *, confirm: Any = None) -> HttpResponse:
    context = {
        "connections": list(
            connection_list_for_user(org=request.org, user=request.user)  # type: ignore[attr-defined,arg-type]
        ),
        "google_configured": google_settings().configured,
        "can_connect": request.membership.is_admin,
        "confirm": confirm,
    }
    return render(request, "web/connections.html", context)


def _back(request: HttpRequest, error: str) -> HttpResponse:
    messages.error(request, error)
    return redirect("web:connections")


def _param(request: HttpRequest, name: str) -> str:
    value = request.GET.get(name, "")
    return value if len(value) <= MAX_PARAM_LENGTH else ""


@member_view
@require_GET
def connections(request: MemberRequest) -> HttpResponse:
    return _page(request)


@member_view
@require_POST
def connections_start(request: MemberRequest) -> HttpResponse:
    if not request.membership.is_admin:
        return _back(request, ADMINS_ONLY)
    try:
        flow = authorization_start(redirect_uri=redirect_uri())
    except ConnectionFailed as exc:
        return _back(request, exc.message)
    request.session[FLOW_SESSION_KEY] = {
        "state": flow.state,
        "verifier": flow.code_verifier,
        "org_id": request.org.pk,
    }
    return HttpResponseRedirect(flow.url)


@member_view
@require_GET
def connections_callback(request: MemberRequest) -> HttpResponse:
    # Single use: whatever happens below, this sign-in attempt is spent.
    flow = request.session.pop(FLOW_SESSION_KEY, None)
    if (
        not isinstance(flow, dict)
        or not isinstance(flow.get("state"), str)
        or not isinstance(flow.get("verifier"), str)
    ):
        return _back(request, "No Google sign-in was in progress. Start again with Connect.")
    state = _param(request, "state")
    if not state or not secrets.compare_digest(state, flow["state"]):
        return _back(
            request,
            "The answer from Google does not belong to this sign-in (state mismatch). "
            "Start again with Connect.",
        )
    if flow.get("org_id") != request.org.pk:
        return _back(request, "You switched organization while connecting. Start again.")
    if not request.membership.is_admin:
        return _back(request, ADMINS_ONLY)
    error = _param(request, "error")
    if error:
        shown = "you cancelled it" if error == "access_denied" else f"Google said {error[:60]!r}"
        return _back(request, f"Google was not connected: {shown}.")
    code = _param(request, "code")
    if not code:
        return _back(request, "Google sent no authorization code. Start again with Connect.")
    try:
        connection = connection_create(
            org=request.org,
            user=request.user,  # type: ignore[arg-type]
            actor=actor_of(request),
            code=code,
            code_verifier=flow["verifier"],
            redirect_uri=redirect_uri(),
        )
    except ConnectionFailed as exc:
        return _back(request, f"Google was not connected: {exc.message}")
    messages.success(request, f"Connected {connection.google_email or 'your Google account'}.")
    return redirect("web:connections")


@member_view
@require_http_methods(["GET", "POST"])
def connections_disconnect(request: MemberRequest, connection_id: str) -> HttpResponse:
    org, user = request.org, request.user
    assert isinstance(user, User)  # member_view: signed in
    if request.method == "GET":
        # member_view turns the selector's NotFound (someone else's id) into a 404.
        mine = connection_get_for_user(org=org, user=user, connection_id=connection_id)
        return _page(request, confirm=mine)
    outcome = connection_disconnect(
        org=org, user=user, connection_id=connection_id, actor=actor_of(request)
    )
    account = outcome.google_email or "the Google account"
    if outcome.revoked:
        text = f"Disconnected {account}; Google confirmed Pulseboard's access is revoked."
    else:
        text = (
            f"Disconnected {account}, but Google could not confirm the revocation: remove "
            "Pulseboard's access at https://myaccount.google.com/permissions to be sure."
        )
    if outcome.sources_affected:
        text += (
            f" {outcome.sources_affected} KPI(s) read through it: they keep their last value "
            "and show 'source failing' until an admin binds them to another connection."
        )
    messages.success(request, text)
    return redirect("web:connections")
