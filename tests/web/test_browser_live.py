"""Live pages and the TV board in a real browser (Debian's Chromium through Playwright).

- Home picks up a value pushed through the real signed webhook route without navigation.
- The TV board goes through many refresh cycles (a 1 s poll, a new value each cycle, so
  every cycle replaces the board) while its DOM node count, JS heap and event listeners
  (Chrome DevTools Protocol ``Performance.getMetrics`` after a forced garbage collection)
  stay flat; at 1920x1080 its type is large enough for a wall and the tiles that do not
  fit go to a second page.
No page may trip the CSP.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.connectors.signing import bind_webhook, deliver
from tests.factories import PASSWORD, KpiFactory, MembershipFactory
from tests.web.test_browser import log_in, watch

from pulseboard.core import clock
from pulseboard.core.actors import Actor
from pulseboard.history.services import value_record
from pulseboard.indicators.models import Kpi

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WARM_UP = 4
CYCLES = 16


def test_home_shows_a_webhook_value_without_navigation(live_server: Any, page: Page) -> None:
    base = live_server.url
    csp = watch(page)
    admin = MembershipFactory(role="admin")
    kpi = KpiFactory(org=admin.org, title="Signups", threshold=10)
    secret = bind_webhook(kpi)
    log_in(page, base, admin.user.email, PASSWORD)
    tile = page.locator(f"#tile-{kpi.pk}")
    expect(tile).to_have_attribute("data-status", "unknown")
    page.evaluate("window.__stayed = true")

    sent = deliver(f"{base}/hooks/kpis/{kpi.pk}", secret, {"value": 1234})
    assert sent.status_code == 200, sent.text
    # Polled every 10 s: the tile changes within 15 s, on the same document.
    expect(tile).to_contain_text("1,234.0", timeout=15_000)
    expect(tile).to_have_attribute("data-status", "green")
    assert page.evaluate("window.__stayed") is True
    assert page.url == base + "/"
    assert csp.violations == []


def _metrics(page: Page, cdp: Any, samples: int = 4) -> dict[str, float]:
    """Each metric's lowest value over a few garbage-collected samples 300 ms apart.

    A swap in flight holds the parsed new board and the old one together for a moment
    (htmx's settle delay), so one sample can catch two boards' nodes (seen once on CI:
    387 -> 751 nodes). That is not a leak; a leak stays in every sample.
    """
    lowest: dict[str, float] = {}
    for n in range(samples):
        if n:
            page.wait_for_timeout(300)
        cdp.send("HeapProfiler.collectGarbage")
        for m in cdp.send("Performance.getMetrics")["metrics"]:
            lowest[m["name"]] = min(lowest.get(m["name"], m["value"]), m["value"])
    return lowest


def test_tv_board_stays_flat_over_many_refreshes(live_server: Any, page: Page) -> None:
    base = live_server.url
    csp = watch(page)
    member = MembershipFactory()
    kpis = [
        KpiFactory(org=member.org, title=f"Metric {n}", threshold=50, position=n) for n in range(9)
    ]
    page.set_viewport_size({"width": 1920, "height": 1080})
    log_in(page, base, member.user.email, PASSWORD)
    page.goto(base + "/tv/?every=1")
    board = page.locator("#tv-board")
    expect(board).to_be_visible()

    # Readable at 3 m: title >= 32 px, value >= 80 px at 1920x1080; 9 tiles do not fit.
    title_px = page.eval_on_selector(
        ".tv-tile-title", "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    value_px = page.eval_on_selector(".tv-value", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert title_px >= 32 and value_px >= 80
    expect(page.locator(".tv-page")).to_have_text(re.compile(r"Page 1 of [2-9]"))
    assert page.locator(".tv-tile:visible").count() < len(kpis)

    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    watched = kpis[0]
    baseline: dict[str, float] = {}
    for cycle in range(WARM_UP + CYCLES):
        value = 100 + cycle
        _record(watched, value)
        expect(page.locator(f'.tv-tile[data-kpi="{watched.pk}"] .tv-value')).to_have_text(
            f"{value}.0", timeout=10_000
        )
        if cycle == WARM_UP:
            baseline = _metrics(page, cdp)
    final = _metrics(page, cdp)
    # Every cycle replaced the board (a new value each time), and nothing piled up.
    assert final["Nodes"] <= baseline["Nodes"] * 1.05 + 20, (baseline["Nodes"], final["Nodes"])
    assert final["JSEventListeners"] <= baseline["JSEventListeners"] + 5
    growth = final["JSHeapUsedSize"] - baseline["JSHeapUsedSize"]
    assert growth < max(1_000_000, baseline["JSHeapUsedSize"] * 0.25), (baseline, final)
    assert page.locator("#tv-board").count() == 1
    assert page.locator(".tv-page").first.is_visible()
    assert csp.violations == []


def _record(kpi: Kpi, value: float) -> None:
    value_record(
        kpi=kpi, value=value, observed_at=clock.now(), source="manual", actor=Actor.system()
    )
