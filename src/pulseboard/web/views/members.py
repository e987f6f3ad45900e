"""Settings → Members (admins): members and their roles, pending invites, invite by link.

An invite link is shown once, in the answer to the POST that made it (never
stored, never shown again: only its hash is kept). The last admin of the org
can be neither demoted nor removed; the service says so and the page shows it.
Demoting an admin revokes the admin API tokens and pending invites they created;
removing a member revokes all their tokens and pending invites of the org. The
confirmation says how many.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pulseboard.core import clock
from pulseboard.core.errors import Conflict, NotFound, ValidationFailed
from pulseboard.orgs import services as org_services
from pulseboard.orgs.mail import invite_mail_send, mail_enabled
from pulseboard.orgs.selectors import (
    invite_get,
    invite_list_pending,
    membership_get_by_id,
    membership_list,
)
from pulseboard.web.access import MemberRequest, actor_of, admin_view
from pulseboard.web.forms import InviteForm, RoleForm, add_errors


def invite_url(token: str) -> str:
    """The link to send: the public base URL, so it works from outside this request's host."""
    base = str(settings.PULSEBOARD["BASE_URL"]).rstrip("/")
    return base + reverse("web:invite-accept", kwargs={"token": token})


def _revoked_phrase(revoked: org_services.Revoked, who: str = "they") -> str:
    """What a demotion or removal revoked with it (docs/security.md), or ""."""
    parts = []
    if revoked.tokens:
        parts.append(f"{revoked.tokens} API token{'s' if revoked.tokens != 1 else ''}")
    if revoked.invites:
        parts.append(f"{revoked.invites} pending invite{'s' if revoked.invites != 1 else ''}")
    parts += [f"{n} {what}{'s' if n != 1 else ''}" for what, n in revoked.others]
    if not parts:
        return ""
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return f"Revoked with it: {listed} {who} created."


def _page(request: MemberRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    org = request.org
    members = list(membership_list(org=org))
    context = {
        "members": members,
        "admin_count": sum(1 for m in members if m.is_admin),
        "invites": list(invite_list_pending(org=org, now=clock.now())),
        "invite_form": InviteForm(),
        "roles": RoleForm.base_fields["role"].choices,  # type: ignore[attr-defined]
        "mail_enabled": mail_enabled(),
        **extra,
    }
    return render(request, "web/members.html", context, status=status)


@admin_view
@require_GET
def members(request: MemberRequest) -> HttpResponse:
    return _page(request)


@admin_view
@require_POST
def member_invite(request: MemberRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invite, token = org_services.member_invite(
                org=request.org,
                actor=actor_of(request),
                role=form.cleaned_data["role"],
                email=form.cleaned_data.get("email") or "",
            )
        except (ValidationFailed, Conflict) as exc:
            add_errors(form, exc)
        else:
            link = invite_url(token)
            # None: not attempted (no address, or e-mail off); False: the server refused.
            emailed = None
            if invite.email and mail_enabled():
                emailed = invite_mail_send(invite=invite, link=link)
            response = _page(request, new_invite=invite, invite_link=link, invite_emailed=emailed)
            # The link is a credential: no cache may keep this page.
            add_never_cache_headers(response)
            return response
    return _page(request, invite_form=form, status=422)


@admin_view
@require_POST
def member_role(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = membership_get_by_id(org=request.org, membership_id=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose admin or member.")
        return redirect("web:members")
    try:
        _, revoked = org_services.member_role_change(
            membership=membership, role=form.cleaned_data["role"], actor=actor_of(request)
        )
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        done = f"{membership.user.email} is now {form.cleaned_data['role']}."
        messages.success(request, " ".join(filter(None, [done, _revoked_phrase(revoked)])))
    return redirect("web:members")


@admin_view
@require_http_methods(["GET", "POST"])
def member_remove(request: MemberRequest, membership_id: int) -> HttpResponse:
    membership = membership_get_by_id(org=request.org, membership_id=membership_id)
    if request.method == "GET":
        return _page(request, confirm=membership)
    try:
        revoked = org_services.member_remove(membership=membership, actor=actor_of(request))
    except (Conflict, NotFound) as exc:
        messages.error(request, exc.message)
        return redirect("web:members")
    if membership.user_id == request.user.pk:
        done = f"You left {membership.org.name}."
        messages.success(request, " ".join(filter(None, [done, _revoked_phrase(revoked, "you")])))
        return redirect("web:home")
    done = f"Removed {membership.user.email} from {membership.org.name}."
    messages.success(request, " ".join(filter(None, [done, _revoked_phrase(revoked)])))
    return redirect("web:members")


@admin_view
@require_POST
def invite_revoke(request: MemberRequest, invite_id: str) -> HttpResponse:
    invite = invite_get(org=request.org, invite_id=invite_id)
    try:
        org_services.invite_revoke(invite=invite, actor=actor_of(request))
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Invite revoked: its link no longer works.")
    return redirect("web:members")
