"""The API's interactive docs (/api/v1/docs) in a real browser: every operation shows,
and nothing trips the site's Content-Security-Policy.

In tests/web/ on purpose: its conftest starts and stops Playwright around each browser
module, whose sync API would otherwise leave an event loop that later asyncio tests trip on.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from pulseboard.api import api

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_interactive_docs_render_every_operation_under_the_csp(
    live_server: Any, page: Page
) -> None:
    refused: list[str] = []

    def complaint(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", complaint)
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/api/v1/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    shown = {
        text.replace("\u200b", "")
        for text in page.locator(".opblock-summary-path").all_inner_texts()
    }
    assert shown == set(api.get_openapi_schema()["paths"])
    assert not refused, refused
