"""The web app in a real browser (Debian's Chromium through Playwright) against a live server.

A handful of whole flows: quick-create with Apply, inline value edit changing the tile's
colour (and a bad value shown in place, Esc to cancel), inviting a member who then logs in
and sees no admin controls, and Home at phone width. No page may trip the CSP.

Screenshots of Home, detail, the KPI form and Home on a phone are always taken; they are
written to docs/screenshots/ when UPDATE_SCREENSHOTS=1 (the README shows home.png), else to
the test's temporary directory, so a normal test run leaves the repository untouched.
Playwright itself (per module, with DJANGO_ALLOW_ASYNC_UNSAFE) comes from tests/web/conftest.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from tests.factories import PASSWORD, MembershipFactory

from pulseboard.connectors.models import Source
from pulseboard.core import clock
from pulseboard.demo import DEMO_EMAIL, DEMO_KPIS, DEMO_PASSWORD, demo_create
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


class CspWatch:
    """Collects the console's complaints about the Content-Security-Policy."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def __call__(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.violations.append(text)


def watch(page: Page) -> CspWatch:
    page.set_default_timeout(TIMEOUT_MS)
    seen = CspWatch()
    page.on("console", seen)
    return seen


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def set_value(page: Page, kpi_id: str, typed: str) -> None:
    page.locator(f"#tile-{kpi_id} .value-button").click()
    field = page.locator(f"#tile-{kpi_id} input[name=value]")
    expect(field).to_be_focused()
    field.fill(typed)
    field.press("Enter")


def test_quick_create_apply_then_inline_edit_changes_the_tile_colour(
    live_server: Any, page: Page, shots: Path
) -> None:
    base = live_server.url
    csp = watch(page)
    admin = MembershipFactory(role="admin")
    log_in(page, base, admin.user.email, PASSWORD)
    expect(page.get_by_role("link", name="Create your first KPI")).to_be_visible()

    page.get_by_role("link", name="Create your first KPI").click()
    page.fill("#id_title", "NPS above 35")
    apply = page.locator("[data-apply]")
    expect(apply).to_be_visible()
    expect(page.locator(".suggest-box")).to_contain_text("stay above 35")
    apply.click()
    expect(page.locator("#id_title")).to_have_value("NPS")
    expect(page.locator("#id_shape")).to_have_value("stay_above")
    expect(page.locator("#id_threshold")).to_have_value("35")
    expect(page.locator("#id_lower")).to_be_hidden()
    expect(page.locator(".preview-target")).to_have_text("stay above 35.0")
    page.click("button.primary:has-text('Create KPI')")
    expect(page.locator(".flash")).to_contain_text("Created “NPS” on Home")

    kpi_id = Kpi.objects.get(org=admin.org, title="NPS").pk
    page.get_by_role("link", name="Home", exact=True).click()
    tile = page.locator(f"#tile-{kpi_id}")
    expect(tile).to_have_attribute("data-status", "unknown")

    set_value(page, kpi_id, "20")
    # The class, not data-status: htmx keeps the old class for a moment to settle the swap.
    expect(tile).to_have_class(re.compile(r"\bstatus-red\b"))
    expect(tile).to_contain_text("Off track")
    red = tile.evaluate("el => getComputedStyle(el).borderTopColor")

    set_value(page, kpi_id, "forty-one")
    expect(tile.locator("[role=alert]")).to_contain_text("not a number")
    expect(tile.locator("input[name=value]")).to_be_focused()
    page.keyboard.press("Escape")
    expect(tile.locator("input[name=value]")).to_have_count(0)
    expect(tile.locator(".value-button")).to_contain_text("20.0")

    set_value(page, kpi_id, "41")
    expect(tile).to_have_class(re.compile(r"\bstatus-green\b"))
    expect(tile).to_contain_text("On track")
    assert tile.evaluate("el => getComputedStyle(el).borderTopColor") != red
    assert Kpi.objects.get(pk=kpi_id).current_value == 41
    assert csp.violations == []


def test_an_invited_member_logs_in_and_sees_no_admin_controls(
    live_server: Any, page: Page, browser: Browser
) -> None:
    base = live_server.url
    csp = watch(page)
    admin = MembershipFactory(role="admin")
    Kpi.objects.create(
        org=admin.org, title="Uptime", shape="stay_above", threshold=99.9, published=True
    )
    Source.objects.create(org=admin.org, kpi=Kpi.objects.get(org=admin.org))
    log_in(page, base, admin.user.email, PASSWORD)
    page.get_by_role("link", name="Members").click()
    page.select_option("#id_role", "member")
    page.click("button:has-text('Create invite link')")
    link = page.locator("#invite-link").input_value()
    page.click("button:has-text('Log out')")

    guest = browser.new_context().new_page()
    guest_csp = watch(guest)
    guest.goto(base + urlparse(link).path)
    expect(guest.locator("h1")).to_have_text(f"Join {admin.org.name}")
    guest.fill("#id_email", "newcomer@example.com")
    guest.fill("#id_password", "a-long-enough-passphrase")
    guest.click("button:has-text('Create account and join')")
    guest.wait_for_url(base + "/")
    guest.click("button:has-text('Log out')")

    log_in(guest, base, "newcomer@example.com", "a-long-enough-passphrase")
    expect(guest.locator(".tile")).to_contain_text("Uptime")
    expect(guest.locator(".value-button")).to_have_count(0)
    nav = guest.get_by_role("navigation", name="Main")
    for admin_page in ("KPIs", "Members", "API tokens", "Audit log"):
        expect(nav.get_by_role("link", name=admin_page)).to_have_count(0)
    guest.goto(base + "/settings/kpis/")
    expect(guest.locator("h1")).to_have_text("Admins only")
    assert Membership.objects.get(user__email="newcomer@example.com").role == "member"
    assert csp.violations == [] and guest_csp.violations == []


def _demo_org_with_some_trouble() -> None:
    """The demo org: one KPI at risk, one off track, one unknown, one source failing."""
    demo_create(now=clock.now())


def test_home_detail_and_form_render_on_desktop_and_phone(
    live_server: Any, page: Page, browser: Browser, shots: Path
) -> None:
    base = live_server.url
    _demo_org_with_some_trouble()
    csp = watch(page)
    page.set_viewport_size({"width": 1280, "height": 640})
    log_in(page, base, DEMO_EMAIL, DEMO_PASSWORD)
    expect(page.locator(".tile")).to_have_count(len(DEMO_KPIS))
    expect(page.locator(".tile[data-status=yellow]")).to_have_count(1)
    expect(page.locator(".tile[data-status=red]")).to_have_count(1)
    expect(page.locator(".mark.failing")).to_have_count(1)
    page.screenshot(path=str(shots / "home.png"), full_page=True)

    page.get_by_role("link", name="p95 API latency").click()
    expect(page.locator("svg.chart .chart-band")).to_have_count(1)
    expect(page.locator("svg.chart")).to_contain_text("ceiling 500 ms")
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.screenshot(path=str(shots / "detail.png"))

    page.goto(base + "/settings/kpis/new/")
    page.fill("#id_title", "Keep MTTR below 4h")
    expect(page.locator("[data-apply]")).to_be_visible()
    page.screenshot(path=str(shots / "kpi-form.png"), full_page=True)
    assert csp.violations == []

    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2)
    mobile = phone.new_page()
    mobile_csp = watch(mobile)
    log_in(mobile, base, DEMO_EMAIL, DEMO_PASSWORD)
    expect(mobile.locator(".tile")).to_have_count(len(DEMO_KPIS))
    # Nothing wider than the phone: no sideways scrolling on Home.
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375
    mobile.screenshot(path=str(shots / "home-phone.png"))
    assert mobile_csp.violations == []
