"""Settings → API tokens (admins): list, create (the token is shown once), revoke.

The plaintext exists only in the answer to the POST that minted it; the page
is marked no-store and the database keeps only the hash and a short prefix.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from pulseboard.core.errors import ValidationFailed
from pulseboard.orgs import services as org_services
from pulseboard.orgs.selectors import token_get, token_list
from pulseboard.web.access import MemberRequest, actor_of, admin_view
from pulseboard.web.forms import TokenForm, add_errors


def _page(request: MemberRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "tokens": list(token_list(org=request.org).select_related("created_by")),
        "form": TokenForm(),
        **extra,
    }
    return render(request, "web/tokens.html", context, status=status)


@admin_view
@require_GET
def tokens(request: MemberRequest) -> HttpResponse:
    return _page(request)


@admin_view
@require_POST
def token_create(request: MemberRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        try:
            token, plaintext = org_services.token_create(
                org=request.org,
                actor=actor_of(request),
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
            )
        except ValidationFailed as exc:
            add_errors(form, exc)
        else:
            response = _page(request, new_token=token, plaintext=plaintext)
            add_never_cache_headers(response)
            return response
    return _page(request, form=form, status=422)


@admin_view
@require_POST
def token_revoke(request: MemberRequest, token_id: str) -> HttpResponse:
    token = token_get(org=request.org, token_id=token_id)
    if token.revoked_at is not None:
        messages.info(request, f"“{token.name}” was already revoked.")
    else:
        org_services.token_revoke(token=token, actor=actor_of(request))
        messages.success(request, f"Revoked “{token.name}”: requests with it now get 401.")
    return redirect("web:tokens")
