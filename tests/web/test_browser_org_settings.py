"""Settings → Organization in a real browser: an admin picks a locale and a time zone from
the suggestions, a bad one is shown in place, and Home and the detail page follow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from tests.factories import PASSWORD, KpiFactory, MembershipFactory
from tests.web.test_browser import log_in, watch

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.orgs.models import Organization

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_sets_locale_and_time_zone_and_the_pages_follow(
    live_server: Any, page: Page
) -> None:
    base = live_server.url
    csp = watch(page)
    admin = MembershipFactory(role="admin")
    kpi = KpiFactory(org=admin.org, title="Orders", unit_type="number", display_format="decimal_1")
    observed = (clock.now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    value_record(kpi=kpi, value=1234.5, observed_at=observed, source="manual", actor=Actor.system())
    log_in(page, base, admin.user.email, PASSWORD)
    expect(page.locator(f"#tile-{kpi.pk}")).to_contain_text("1,234.5")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
    expect(page.locator("h1")).to_have_text("Organization")
    # The fields offer suggestions through their datalists.
    assert page.locator("#id_locale").get_attribute("list") == "locale-options"
    assert page.locator("#locale-options option[value='de_DE']").count() == 1
    assert page.locator("#timezone-options option[value='Asia/Tokyo']").count() == 1

    page.fill("#id_locale", "de-DE")
    page.fill("#id_timezone", "Mars/Olympus_Mons")
    page.click("button:has-text('Save')")
    expect(page.locator(".errorlist")).to_contain_text("is not a time zone this server knows")
    assert Organization.objects.get(pk=admin.org.pk).locale == "en_US"

    page.fill("#id_timezone", "asia/tokyo")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash")).to_contain_text("de_DE · Asia/Tokyo")
    expect(page.locator("#id_timezone")).to_have_value("Asia/Tokyo")

    page.goto(base + "/")
    expect(page.locator(f"#tile-{kpi.pk}")).to_contain_text("1.234,5")
    page.goto(f"{base}/kpis/{kpi.pk}/")
    tokyo = observed.astimezone(ZoneInfo("Asia/Tokyo"))
    shown = f"{tokyo.day} {tokyo:%b %Y, %H:%M}"
    expect(page.locator(".history-table")).to_contain_text(shown)
    assert csp.violations == []
