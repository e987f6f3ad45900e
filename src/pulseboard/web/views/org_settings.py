"""Settings → Organization (admins): the org's name, locale and time zone (DESIGN §15).

The form suggests common locales and every time zone the server knows, but takes any
text: ``orgs.services.org_update`` decides what is valid and stores the canonical form,
exactly as for ``PATCH /api/v1/org``. The page shows what the current settings look
like (a number, today's date and the time now) so an admin sees the effect at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from pulseboard.core import clock
from pulseboard.core.errors import ValidationFailed
from pulseboard.indicators.formatting import format_value
from pulseboard.orgs.localization import COMMON_LOCALES, locale_label, timezone_names
from pulseboard.orgs.services import org_update
from pulseboard.web.access import MemberRequest, actor_of, admin_view
from pulseboard.web.forms import OrgForm, add_errors

SAMPLE_VALUE = 1234567.891


def _page(request: MemberRequest, form: OrgForm, *, status: int = 200) -> HttpResponse:
    org = request.org
    context: dict[str, Any] = {
        "form": form,
        "locale_options": [(tag, locale_label(tag)) for tag in COMMON_LOCALES],
        "timezone_options": timezone_names(),
        "locale_name": locale_label(org.locale),
        "sample_number": format_value(
            SAMPLE_VALUE, unit_type="number", display_format="decimal_2", locale=org.locale
        ),
        "sample_money": format_value(
            SAMPLE_VALUE,
            unit_type="currency",
            unit_label="EUR",
            display_format="decimal_2",
            locale=org.locale,
        ),
        # The date filter shows it in the zone the middleware activated: the org's.
        "now": clock.now(),
    }
    return render(request, "web/org_settings.html", context, status=status)


@admin_view
@require_http_methods(["GET", "POST"])
def org_settings(request: MemberRequest) -> HttpResponse:
    org = request.org
    if request.method == "GET":
        initial = {"name": org.name, "locale": org.locale, "timezone": org.timezone}
        return _page(request, OrgForm(initial=initial))
    form = OrgForm(request.POST)
    if form.is_valid():
        try:
            updated = org_update(
                org=org,
                actor=actor_of(request),
                name=form.cleaned_data["name"],
                locale=form.cleaned_data["locale"],
                timezone=form.cleaned_data["timezone"],
            )
        except ValidationFailed as exc:
            add_errors(form, exc)
        else:
            messages.success(
                request,
                f"Saved: {updated.name} · {updated.locale} · {updated.timezone}.",
            )
            return redirect("web:org-settings")
    return _page(request, form, status=422)
