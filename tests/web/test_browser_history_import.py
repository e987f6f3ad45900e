"""Importing history in a real browser (Debian's Chromium): upload, preview, import, the rows.

The preview swaps the form through htmx while the chosen file stays in its input
(``hx-preserve``), so the admin imports with one more click and the server reads the
same file again. A bad file shows its errors in place and offers no import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.factories import PASSWORD, KpiFactory, MembershipFactory
from tests.web.test_browser import log_in, watch

from pulseboard.audit.models import AuditEvent
from pulseboard.history.models import KpiHistory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_preview_then_import_shows_the_rows_in_the_history(
    live_server: Any, page: Page, tmp_path: Path
) -> None:
    base = live_server.url
    csp = watch(page)
    admin = MembershipFactory(role="admin")
    kpi = KpiFactory(org=admin.org, title="Weekly signups", shape="stay_above", threshold=100)
    bad = tmp_path / "bad.csv"
    bad.write_text("observed_at;value\n2024-01-01T00:00:00Z;120\n")
    good = tmp_path / "signups.csv"
    good.write_text(
        "observed_at,value\n"
        + "".join(f"2024-01-{day:02d}T09:00:00Z,{100 + day}\n" for day in range(1, 29))
    )
    log_in(page, base, admin.user.email, PASSWORD)

    page.goto(f"{base}/kpis/{kpi.pk}/")
    page.get_by_role("link", name="Import history").click()
    expect(page.get_by_role("heading", name="Import history of “Weekly signups”")).to_be_visible()

    page.set_input_files("#import-file", str(bad))
    page.click("#import-preview-button")
    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("The file has 1 error; nothing was imported.")
    expect(errors).to_contain_text("Line 1: columns are separated by ';'")
    expect(page.locator("#import-confirm")).to_have_count(0)

    page.set_input_files("#import-file", str(good))
    page.click("#import-preview-button")
    expect(page.locator("#preview-rows")).to_have_text("28")
    # Swapped in by htmx: the page did not reload, the chosen file is still in its input.
    expect(page.locator("#choose-again")).to_have_count(0)
    assert page.eval_on_selector("#import-file", "input => input.files.length") == 1
    expect(page.locator("#preview-skipped")).to_have_text("0")
    expect(page.locator("#import-summary")).to_contain_text("1 Jan 2024, 09:00 UTC")
    expect(page.locator("#import-summary")).to_contain_text("28 Jan 2024, 09:00 UTC")
    assert not KpiHistory.objects.filter(kpi=kpi).exists()  # a preview writes nothing

    page.get_by_role("button", name="Import 28 rows").click()
    page.wait_for_url(f"{base}/kpis/{kpi.pk}/?range=all")
    expect(page.locator(".flash")).to_contain_text("Imported 28 rows into Weekly signups.")
    table = page.locator(".history-table")
    expect(table.locator("tbody tr")).to_have_count(25)  # the first page, newest first
    expect(table.locator("tbody tr").first).to_contain_text("28 Jan 2024, 09:00")
    expect(table.locator("tbody tr").first).to_contain_text("128")
    expect(page.locator(".detail-value")).to_contain_text("128")
    assert KpiHistory.objects.filter(kpi=kpi).count() == 28
    assert AuditEvent.objects.filter(action="history.imported", target_id=kpi.pk).count() == 1
    assert csp.violations == []
