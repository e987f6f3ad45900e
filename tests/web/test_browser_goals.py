"""Goals in a real browser (Debian's Chromium through Playwright) against a live server.

Whole flows: an admin sets up a cycle, an objective and a manual key result through the
forms (a bad date range shown in place first), a member who owns the key result checks in
and sees its status move; a key result started from a KPI's page follows the KPI's value;
the Goals page at phone width has no sideways scrolling. No page may trip the CSP.
Playwright itself (per module, with DJANGO_ALLOW_ASYNC_UNSAFE) comes from tests/web/conftest.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from tests.factories import PASSWORD, KpiFactory, MembershipFactory

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.goals.models import KeyResult
from pulseboard.history.services import value_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TIMEOUT_MS = 15_000


class CspWatch:
    def __init__(self) -> None:
        self.violations: list[str] = []

    def __call__(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.violations.append(message.text)


def watch(page: Page) -> CspWatch:
    page.set_default_timeout(TIMEOUT_MS)
    seen = CspWatch()
    page.on("console", seen)
    return seen


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_an_admin_sets_goals_and_the_owner_checks_in(
    live_server: Any, page: Page, browser: Browser
) -> None:
    base = live_server.url
    csp = watch(page)
    admin = MembershipFactory(role="admin")
    owner = MembershipFactory(org=admin.org, user__email="owner@example.com")
    today = clock.now().date()
    log_in(page, base, admin.user.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Goals").click()
    page.get_by_role("link", name="Create a cycle").click()
    page.fill("#id_name", "This quarter")
    page.fill("#id_starts_on", str(today + timedelta(days=10)))
    page.fill("#id_ends_on", str(today - timedelta(days=10)))
    page.click("button:has-text('Create cycle')")
    expect(page.locator(".errorlist")).to_contain_text("The end date is before the start date.")
    page.fill("#id_starts_on", str(today - timedelta(days=45)))
    page.fill("#id_ends_on", str(today + timedelta(days=44)))
    page.click("button:has-text('Create cycle')")
    expect(page.locator(".flash")).to_contain_text("Created the cycle “This quarter”")

    page.get_by_role("link", name="Add the first one").click()
    page.fill("#id_title", "Onboard the first customers")
    page.click("button:has-text('Create objective')")
    expect(page.locator("h1")).to_have_text("Onboard the first customers")

    page.get_by_role("link", name="Add a key result").click()
    page.fill("#id_title", "Onboarding calls held")
    page.fill("#id_start_value", "0")
    page.fill("#id_target_value", "0")
    page.select_option("#id_owner", label=owner.user.email)
    page.click("button:has-text('Create key result')")
    expect(page.locator(".errorlist")).to_contain_text("nothing to move")
    page.fill("#id_target_value", "20")
    page.click("button:has-text('Create key result')")
    expect(page.locator(".flash")).to_contain_text("Added the key result")
    key_result = KeyResult.objects.get(org=admin.org)
    row = page.locator(f"#key-result-{key_result.pk}")
    expect(row).to_have_attribute("data-status", "unknown")
    expect(row).to_contain_text("No data")
    page.click("button:has-text('Log out')")
    assert csp.violations == []

    member = browser.new_context().new_page()
    member_csp = watch(member)
    log_in(member, base, owner.user.email)
    member.goto(base + "/goals/")
    expect(member.get_by_role("link", name="New cycle")).to_have_count(0)
    member.get_by_role("link", name="Onboarding calls held").click()
    member.fill("#id_value", "lots")
    member.click("button:has-text('Check in')")
    expect(member.locator(".errorlist")).to_contain_text("is not a number")
    member.fill("#id_value", "2")
    member.fill("#id_note", "a slow start")
    member.click("button:has-text('Check in')")
    expect(member.locator(".flash")).to_contain_text("Checked in")
    # Half the cycle gone, 10% done: more than 0.25 behind what is expected.
    expect(member.locator(".detail-head")).to_have_class(re.compile(r"\bstatus-red\b"))
    expect(member.locator(".detail-head")).to_contain_text("Behind")
    expect(member.locator(".check-ins")).to_contain_text("a slow start")
    expect(member.locator("svg.goal-chart .goal-chart-expected")).to_have_count(1)
    member.fill("#id_value", "10")
    member.click("button:has-text('Check in')")
    expect(member.locator(".detail-head")).to_contain_text("On track")
    assert member_csp.violations == []


def test_a_key_result_from_a_kpi_follows_it_and_the_page_fits_a_phone(
    live_server: Any, browser: Browser
) -> None:
    base = live_server.url
    admin = MembershipFactory(role="admin")
    kpi = KpiFactory(
        org=admin.org, title="Retention", unit_type="percentage", display_format="decimal_1"
    )
    value_record(kpi=kpi, value=85.0, observed_at=None, source="manual", actor=Actor.system())
    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2)
    page = phone.new_page()
    csp = watch(page)
    log_in(page, base, admin.user.email)

    page.goto(base + "/goals/cycles/new/")
    today = clock.now().date()
    page.fill("#id_name", "Q")
    page.fill("#id_starts_on", str(today - timedelta(days=30)))
    page.fill("#id_ends_on", str(today + timedelta(days=60)))
    page.click("button:has-text('Create cycle')")
    page.get_by_role("link", name="Add the first one").click()
    page.fill("#id_title", "Customers stay")
    page.click("button:has-text('Create objective')")

    page.goto(f"{base}/kpis/{kpi.pk}/")
    page.get_by_role("link", name="Create a key result from this KPI").click()
    expect(page.locator("#id_start_value")).to_have_value("85.0")
    expect(page.locator("#id_kpi")).to_have_value(kpi.pk)
    page.fill("#id_title", "Retention to 92%")
    page.fill("#id_target_value", "92")
    page.click("button:has-text('Create key result')")
    expect(page.locator(".flash")).to_contain_text("Added the key result")

    value_record(kpi=kpi, value=88.5, observed_at=None, source="api", actor=Actor.system())
    page.goto(base + "/goals/")
    row = page.locator(".key-result", has_text="Retention to 92%")
    expect(row).to_contain_text("88.5%")
    expect(row).to_contain_text("from 85.0% to 92.0%")
    expect(row).to_contain_text("On track")
    expect(row.locator("svg.goal-bar .goal-bar-expected")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    row.get_by_role("link", name="Retention to 92%").click()
    expect(page.locator(".detail-value")).to_have_text("88.5%")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert csp.violations == []
    phone.close()
