"""The KPI tree in a real browser (Debian's Chromium): thirty KPIs and a chain deeper than the
depth limit on a 390 px wide phone, with no sideways scrolling and nothing the CSP refuses."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Browser
from tests.factories import PASSWORD, KpiFactory
from tests.web.test_browser import log_in, watch
from tests.web.test_tree import org_with_tree

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TREE = reverse("web:tree")


def test_thirty_kpis_fit_a_phone_without_sideways_scrolling(
    live_server: Any, browser: Browser
) -> None:
    membership = org_with_tree(30)
    KpiFactory(org=membership.org, title="A KPI with a rather long title that has to wrap")
    deep = KpiFactory(org=membership.org, title="Deepest outcome")
    for level in range(9):
        deep = KpiFactory(org=membership.org, title=f"Level {level + 1} driver", parent=deep)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = phone.new_page()
    csp = watch(page)
    log_in(page, live_server.url, membership.user.email, PASSWORD)

    page.goto(live_server.url + TREE)

    assert page.locator(".tree-item").count() == 30 + 1 + 8  # cut below level 8
    assert page.locator(".tree-node-hidden").count() == 1
    body_width = page.evaluate("document.body.scrollWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 and body_width <= 390
    assert csp.violations == []
    phone.close()
