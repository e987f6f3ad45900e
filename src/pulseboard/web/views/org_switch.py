"""Switching organization, for a user who belongs to several: the choice lives in the session."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from pulseboard.orgs.middleware import SESSION_KEY
from pulseboard.web.access import MemberRequest
from pulseboard.web.forms import OrgSwitchForm


@login_required
@require_POST
def org_switch(request: MemberRequest) -> HttpResponse:
    form = OrgSwitchForm(request.POST)
    memberships = {m.org_id: m for m in request.memberships}
    if not form.is_valid() or form.cleaned_data["org_id"] not in memberships:
        # Same answer for an org that does not exist and one the user is not in.
        messages.error(request, "You are not a member of that organization.")
        return redirect("web:home")
    chosen = memberships[form.cleaned_data["org_id"]]
    request.session[SESSION_KEY] = chosen.org_id
    messages.success(request, f"Switched to {chosen.org.name}.")
    return redirect("web:home")
